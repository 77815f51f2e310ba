package natsnode

import "testing"

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// TestBudgetFor checks how the store is sized from the disk: never more than the disk can
// give it (free space + what the store holds), never below what the store holds, an
// operator's limit beyond the disk lowered to it, and a small disk still getting a store.
func TestBudgetFor(t *testing.T) {
	for _, c := range []struct {
		what                   string
		max, used, free, size  int64
		stream, server, resume int64
		lowered, full          bool
	}{
		{what: "automatic, large empty disk", free: 100 * gib, size: 100 * gib,
			stream: 70 * gib, server: 77 * gib, resume: 70 * gib / 100},
		{what: "operator within the disk", max: 10 * gib, free: 100 * gib, size: 100 * gib,
			stream: 10 * gib, server: 11 * gib, resume: 102 * mib},
		{what: "operator beyond the disk: lowered, a tenth left for the rest", max: 1 << 40, free: 110 * gib, size: 110 * gib,
			stream: 100 * gib, server: 110 * gib, resume: 1 * gib, lowered: true},
		{what: "automatic, 96 MiB disk: the 64 MiB floor fits", free: 96 * mib, size: 96 * mib,
			stream: 64 * mib, server: 96 * mib, resume: 12 * mib},
		{what: "automatic, 32 MiB disk: half of it", free: 32 * mib, size: 32 * mib,
			stream: 16 * mib, server: 32 * mib, resume: 4 * mib},
		{what: "automatic, 16 MiB disk: two blocks, a write and a margin left", free: 16 * mib, size: 16 * mib,
			stream: 5 * mib, server: 16 * mib, resume: 2 * mib},
		{what: "automatic, 8 MiB disk: the smallest blocks", free: 8 * mib, size: 8 * mib,
			stream: smallStreamLimit - 1, server: 8 * mib, resume: 2 * mib},
		{what: "operator beyond an 8 MiB disk", max: gib, free: 8 * mib, size: 8 * mib,
			stream: smallStreamLimit - 1, server: 8 * mib, resume: 2 * mib, lowered: true},
		{what: "a 4 MiB disk: the smallest limit", free: 4 * mib, size: 4 * mib,
			stream: 32000, server: 4 * mib, resume: 2 * mib},
		{what: "nearly full: never below what the store holds", used: 50 * mib, free: 4 * mib, size: 200 * mib,
			stream: 50 * mib, server: 54 * mib, resume: 16 * mib},
		{what: "operator below what the store holds: applied", max: 10 * mib, used: 50 * mib, free: gib, size: 2 * gib,
			stream: 10 * mib, server: 82 * mib, resume: 16 * mib},
		{what: "full at start: planned from the disk's size", used: 10 * mib, free: mib / 2, size: 11 * gib,
			stream: 11 * gib * 7 / 10, server: 11*gib*7/10 + 11*gib*7/100, resume: 11 * gib * 7 / 1000, full: true},
		{what: "unknown disk, automatic: no limit", size: -1, resume: 16 * mib},
		{what: "unknown disk, operator", max: gib, size: -1, stream: gib, server: gib + gib/10, resume: 16 * mib},
	} {
		t.Run(c.what, func(t *testing.T) {
			b := budgetFor(c.max, c.used, c.free, c.size, c.size >= 0)
			if b.stream != c.stream || b.server != c.server {
				t.Errorf("stream %d, server %d bytes; want %d, %d", b.stream, b.server, c.stream, c.server)
			}
			if b.resume/mib != c.resume/mib {
				t.Errorf("resumes at %d MiB free, want %d", b.resume/mib, c.resume/mib)
			}
			if lowered := b.requested != 0; lowered != c.lowered || (lowered && b.requested != c.max) {
				t.Errorf("requested %d, lowered %v; want lowered %v", b.requested, lowered, c.lowered)
			}
			if b.fullAtStart != c.full {
				t.Errorf("full at start %v, want %v", b.fullAtStart, c.full)
			}
			if c.size < 0 {
				return
			}
			room := c.free + c.used
			if c.full {
				room = c.size
			}
			if b.stream > room || b.server > room {
				t.Errorf("stream %d, server %d: more than the disk can give the store (%d)", b.stream, b.server, room)
			}
			if b.server < b.stream || b.server < c.used || (c.max == 0 && b.stream < c.used) {
				t.Errorf("stream %d, server %d: below the stream or the store's %d bytes", b.stream, b.server, c.used)
			}
		})
	}
}

// TestDiskIsFull: a disk is full below one write's need and, once full, until the resume
// figure is free; a disk merely low on space is not full.
func TestDiskIsFull(t *testing.T) {
	const resume = 16 * mib
	for _, c := range []struct {
		free    int64
		wasFull bool
		want    bool
	}{
		{0, false, true},
		{writeNeedBytes - 1, false, true},
		{writeNeedBytes, false, false},
		{3 * mib, false, false}, // low, not full: stays ready
		{3 * mib, true, true},   // full until resume is free
		{resume - 1, true, true},
		{resume, true, false},
	} {
		if got := diskIsFull(c.free, c.wasFull, resume); got != c.want {
			t.Errorf("%d bytes free, was full %v: full %v, want %v", c.free, c.wasFull, got, c.want)
		}
	}
}
