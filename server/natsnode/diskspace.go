package natsnode

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// How much of the disk the store may use, and when the disk counts as full.
const (
	// autoStoreShare is the share of (free space + the store's own size) that the message
	// stream may take when --max-store-bytes is not set. nats-server's own default is 75%
	// of the free space alone, which shrinks as the store grows (nats-server issue 3520):
	// counting the store's size keeps the budget stable across restarts.
	autoStoreShare = 0.70
	// minStoreBytes is the smallest automatic budget, on a disk that can hold it (see
	// diskLimit): a store that small keeps a few hundred thousand messages.
	minStoreBytes = 64 << 20
	// storeHeadroom is what JetStream may hold beyond the message stream (the state
	// bucket, raft logs): a tenth of the stream's limit, at least this much.
	storeHeadroom = 32 << 20
	// writeMargin is what one write may need on disk beyond its message: the block's
	// index and per-subject state, and in a cluster the raft log's entry.
	writeMargin = 1 << 20
	// writeNeedBytes is the least free space with which a write can still succeed: the
	// largest message JetStream takes (nats-server's maximum payload, 1 MiB, which the
	// embedded server keeps; a chat message is far smaller) plus writeMargin. With less,
	// the disk counts as full and the node is not ready.
	writeNeedBytes = server.MAX_PAYLOAD_SIZE + writeMargin
	// diskCheckEvery is how often the embedded server's health is looked at while
	// JetStream runs, and how often free space is measured once it stopped.
	diskCheckEvery = time.Second
	// resumeFreeBytes: a full disk counts as having space again once at least this much
	// is free (and 1% of what the store may use, whichever is more; see resumeNeed).
	resumeFreeBytes = 16 << 20
)

// storeBudget is how many bytes the message stream may hold, and how many JetStream as a
// whole may hold on this server.
type storeBudget struct {
	// stream is the stream's MaxBytes; 0 when unknown (no limit).
	stream int64
	// server is the embedded server's JetStream MaxStore; 0 lets NATS pick.
	server int64
	// auto: nobody set the stream's limit; it was derived from the disk.
	auto bool
	// used is what the store held on disk at start, free what the disk had left.
	used, free int64
	// room is what the disk can give the store: free + used; the file system's size when
	// the disk was full at start (fullAtStart). 0 when unknown.
	room int64
	// requested is the operator's --max-store-bytes when it was more than the disk can
	// hold, and stream what it was lowered to; 0 otherwise.
	requested int64
	// fullAtStart: the disk had less than writeNeedBytes free when the budget was planned.
	fullAtStart bool
	// resume is how much must be free before a full disk counts as having space again.
	resume int64
}

// planStore sizes the store in dataDir from the disk as it is now (one walk of the
// store's files, one statfs). See budgetFor.
func planStore(dataDir string, maxStoreBytes int64) storeBudget {
	used := dirSize(filepath.Join(dataDir, server.JetStreamStoreDir))
	free, size, known := diskSpace(dataDir)
	return budgetFor(maxStoreBytes, used, free, size, known)
}

// budgetFor sizes a store that holds used bytes on a disk with free bytes left, of size
// bytes in all (known: the disk could be measured). A positive maxStoreBytes is the
// operator's choice; 0 derives it from the disk.
//
// Neither the stream's limit nor the server's is ever more than the disk can give the
// store (its free space plus what the store already holds): the stream's leaves room
// for JetStream's other files (diskLimit), and the server's is the stream's plus
// headroom, at most all of it. An operator's limit beyond that is lowered to it rather
// than refused: the budget is planned at every start, so a disk that grows later gets the
// operator's limit back at the next start, and a node that refused to start would serve
// nobody over a figure that only ever bounds the history kept. Neither is ever below what
// the store already holds, so that a start discards nothing because the disk is short
// (with the disk that short, readiness says so). The server's limit is never below that
// either: a lower one stops JetStream at start with "resource limits exceeded".
func budgetFor(maxStoreBytes, used, free, size int64, known bool) storeBudget {
	b := storeBudget{stream: maxStoreBytes, used: used, free: free, resume: max(resumeFreeBytes, maxStoreBytes/100)}
	if !known {
		if maxStoreBytes <= 0 {
			return storeBudget{used: used, resume: resumeFreeBytes}
		}
		b.server = max(b.stream+max(b.stream/10, storeHeadroom), used+storeHeadroom)
		return b
	}
	b.room = free + used
	if free < writeNeedBytes && size > b.room {
		// The disk is full: something else took the space, most likely for a while. What
		// is left says nothing about what the store may use, and a limit planned from it
		// would be no more than what the store holds now; an automatic one is never
		// raised again (a cluster's stream fits its smallest disk). So this start plans
		// from the disk's size, an upper bound, which the next start on a disk with space
		// lowers if need be.
		b.room, b.fullAtStart = size, true
	}
	limit := max(diskLimit(b.room), used)
	switch {
	case maxStoreBytes <= 0:
		b.auto = true
		b.stream = min(max(minStoreBytes, int64(autoStoreShare*float64(b.room)), used), limit)
	case maxStoreBytes > limit:
		b.stream, b.requested = limit, maxStoreBytes
	}
	b.server = min(max(b.stream+max(b.stream/10, storeHeadroom), used+storeHeadroom), b.room)
	b.resume = resumeNeed(b.stream, size)
	return b
}

// diskLimit is the largest stream limit that room (what the disk can give the store)
// holds with JetStream's other files: the state bucket, raft logs and their snapshots in a
// cluster, the stream's oldest block while its discarded messages still take space, and
// the next write. It leaves them what the server's limit allows beyond the stream's (a
// tenth of the stream: room/11 leaves exactly that), at least storeHeadroom, and at most
// half of room, so that a small disk still holds a store. On a disk that small, the sizes
// of the blocks nats-server keeps the files in decide what fits (see blockLayout).
func diskLimit(room int64) int64 {
	limit := room - min(max(room/11, storeHeadroom), room/2)
	// Beyond the stream's blocks: the state bucket's newest block, the next write, and a
	// margin for the small files (indexes, the stores' metadata).
	const others = mediumBlockSize + writeNeedBytes + writeMargin
	if limit+mediumBlockSize+others > room {
		limit = room - mediumBlockSize - others
	}
	if limit < smallStreamLimit {
		limit = min(smallStreamLimit-1, room-server.FileStoreMinBlkSize-others)
	}
	return max(limit, min(server.FileStoreMinBlkSize, room/2))
}

// blockLayout: how nats-server (v2.15, filestore.go dynBlkSize) lays a stream out on disk,
// which counts on a small disk. A stream is kept in blocks of a size picked from the
// stream's limit, and its oldest block keeps its size on disk until its last message is
// discarded, so the stream takes up to its limit plus one block: a limit below
// smallStreamLimit gets the smallest blocks (FileStoreMinBlkSize), one up to 32 MiB blocks
// of mediumBlockSize, a larger one FileStoreMaxBlkSize (which storeHeadroom covers). The
// state bucket (a key-value stream) is kept in mediumBlockSize blocks, and its newest block
// grows to that size before the revisions it replaced are cleaned out.
// TestAutoStoreBudgetFitsSmallDisk checks this on real small disks.
const (
	smallStreamLimit = 4 * server.FileStoreMinBlkSize
	mediumBlockSize  = 4 << 20
)

// resumeNeed is how much must be free before a full disk counts as having space again:
// resumeFreeBytes, or 1% of the stream's limit when that is more, so that the store does
// not fill the disk again at once; but at most an eighth of the disk (of size bytes), so
// that a small disk can get there, and never less than one write needs.
func resumeNeed(stream, size int64) int64 {
	return max(writeNeedBytes, min(max(resumeFreeBytes, stream/100), size/8))
}

// dirSize adds up the sizes of the files under dir (0 when it does not exist).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil //nolint:nilerr // a file that went away, an unreadable one: counted as empty
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// DiskTrouble reports why the node's store cannot take writes, from one statfs of its
// disk: a write failed (WatchDisk restarts JetStream), or the disk has less free than one
// write needs (writeNeedBytes), before any write failed: after a restart on a full disk,
// say. A disk found full counts as full until budget.resume is free, as after a failed
// write, so that readiness does not flap while something else hovers around the
// threshold; a node merely low on space stays ready. The message store's readiness probe
// calls it before it asks the stream.
func (n *Node) DiskTrouble() error {
	free, _, known := diskSpace(n.dataDir)
	if failure := n.failure(); failure != nil {
		return storageStopped(n, failure, free, known)
	}
	if !known {
		return nil
	}
	n.diskMu.Lock()
	defer n.diskMu.Unlock()
	if n.diskFull = diskIsFull(free, n.diskFull, n.budget.resume); n.diskFull {
		return fmt.Errorf("storage stopped: %w", diskFullError(free, n.budget.resume))
	}
	return nil
}

// diskIsFull tells whether a disk with free bytes left is full: it becomes full below
// writeNeedBytes, and once full (wasFull) stays so below resume.
func diskIsFull(free int64, wasFull bool, resume int64) bool {
	if wasFull {
		return free < resume
	}
	return free < writeNeedBytes
}

// storageStopped explains to /api/ready why storage takes no writes after failure,
// without the paths and store errors that the log has; free is the disk's free space, if
// known.
func storageStopped(n *Node, failure error, free int64, known bool) error {
	if known && free < n.budget.resume {
		return fmt.Errorf("storage stopped: %w", diskFullError(free, n.budget.resume))
	}
	if !n.JetStreamEnabled() {
		return errors.New("storage stopped: JetStream is restarting")
	}
	return errors.New("storage stopped: a write to the disk failed; restarting")
}

// diskFullError says that the disk is full with free bytes left, and counts as having
// space again at resume: the reason readiness gives.
func diskFullError(free, resume int64) error {
	return fmt.Errorf("the disk is full (%s free; writes resume by themselves once %s are)",
		friendlyBytes(free), friendlyBytes(resume))
}

// StartTrouble is why a stream could not be set up on the node: its full disk
// (nats-server's error says only that it could not create the store), else err.
func (n *Node) StartTrouble(err error) error {
	if free, _, known := diskSpace(n.dataDir); known && free < writeNeedBytes {
		return diskFullError(free, n.budget.resume)
	}
	return err
}

// friendlyBytes writes n in the largest binary unit that keeps it at least 1.
func friendlyBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/1024, 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, units[i])
}
