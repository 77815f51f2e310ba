// Package backoff paces retries: a pause that doubles after every failed attempt, from a
// shortest to a longest one, and starts again from the shortest after a success.
package backoff

import (
	"context"
	"time"
)

// Backoff is the pause before the next attempt: Min at first, twice the previous one after
// every attempt, at most Max. Its zero value with Min and Max set is ready to use; it is
// not safe for concurrent use (each retry loop has its own).
type Backoff struct {
	// Min is the first pause, and the one after Reset.
	Min time.Duration
	// Max bounds every pause.
	Max time.Duration

	next time.Duration // 0: Min
}

// Next returns the pause to take now and doubles the one after, up to Max.
func (b *Backoff) Next() time.Duration {
	d := b.next
	if d == 0 {
		d = b.Min
	}
	d = min(d, b.Max)
	b.next = min(2*d, b.Max)
	return d
}

// Reset makes the next pause Min again (after a success).
func (b *Backoff) Reset() { b.next = 0 }

// Wait takes the next pause (see Next), or less when ctx ends first: it reports whether
// the whole pause was taken.
func (b *Backoff) Wait(ctx context.Context) bool {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
