package backoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/distchat/distchat/server/backoff"
)

func TestNextDoublesUpToMaxAndReset(t *testing.T) {
	b := backoff.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.Next(); got != w*time.Millisecond {
			t.Fatalf("pause %d: %v, want %v", i, got, w*time.Millisecond)
		}
	}
	b.Reset()
	if got := b.Next(); got != 100*time.Millisecond {
		t.Fatalf("after Reset: %v, want 100ms", got)
	}
	if got := b.Next(); got != 200*time.Millisecond {
		t.Fatalf("second after Reset: %v, want 200ms", got)
	}
}

// A pause never exceeds Max, even when Min does, and a Max that is not a power of two
// times Min is reached exactly.
func TestNextNeverBeyondMax(t *testing.T) {
	b := backoff.Backoff{Min: 3 * time.Second, Max: time.Second}
	for range 3 {
		if got := b.Next(); got != time.Second {
			t.Fatalf("pause %v, want the 1s maximum", got)
		}
	}
	b = backoff.Backoff{Min: 2 * time.Second, Max: time.Minute}
	var last time.Duration
	for range 10 {
		last = b.Next()
	}
	if last != time.Minute {
		t.Fatalf("pause after ten: %v, want 1m", last)
	}
}

func TestWait(t *testing.T) {
	b := backoff.Backoff{Min: 5 * time.Millisecond, Max: 10 * time.Millisecond}
	start := time.Now()
	if !b.Wait(context.Background()) {
		t.Fatal("Wait without an ended context reported false")
	}
	if d := time.Since(start); d < 5*time.Millisecond {
		t.Fatalf("Wait took %v, want at least 5ms", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := backoff.Backoff{Min: time.Hour, Max: time.Hour}
	if slow.Wait(ctx) {
		t.Fatal("Wait with an ended context reported true")
	}
}
