package natsnode

import (
	"time"
	_ "unsafe" // go:linkname

	_ "github.com/nats-io/nats-server/v2/server" // the variables below live there
)

// JetStream's raft timing, shortened.
//
// nats-server elects a new leader for a raft group (the stream, the cluster's metadata)
// only after a follower has heard nothing from the old one for a random 4-9 s, and a
// leader that lost its majority steps down only once it has heard from no majority for
// 10 s, which it looks at every 10 s (so after 10-20 s). Those times are package variables
// with no option to set them. Measured on a three-node cluster here, killing the stream's
// leader with SIGKILL stopped every publish for 7-8 s; the survivors are meant to go on
// within about 2 s. The heartbeat is sent four times as often (250 ms instead of 1 s) so
// that the shorter election timeout still spans several missed heartbeats (four to six:
// no elections for a leader that is merely slow), and the quorum check follows the
// heartbeat as upstream's does (10 heartbeats: a leader without its majority steps down
// after 2.5-5 s).
//
// A linkname to a variable that upstream renamed or removed still builds: it would set a
// variable of its own that nats-server never reads, and silently undo this.
// TestRaftTimingVariablesExist checks the names against nats-server's source, so that an
// upgrade that renames one fails the tests.
const (
	raftHeartbeat          = 250 * time.Millisecond
	raftMinElectionTimeout = 1000 * time.Millisecond
	raftMaxElectionTimeout = 1600 * time.Millisecond
	raftLostQuorum         = 10 * raftHeartbeat
)

//go:linkname natsHBInterval github.com/nats-io/nats-server/v2/server.hbInterval
var natsHBInterval time.Duration

//go:linkname natsMinElectionTimeout github.com/nats-io/nats-server/v2/server.minElectionTimeout
var natsMinElectionTimeout time.Duration

//go:linkname natsMaxElectionTimeout github.com/nats-io/nats-server/v2/server.maxElectionTimeout
var natsMaxElectionTimeout time.Duration

//go:linkname natsLostQuorumInterval github.com/nats-io/nats-server/v2/server.lostQuorumInterval
var natsLostQuorumInterval time.Duration

//go:linkname natsLostQuorumCheck github.com/nats-io/nats-server/v2/server.lostQuorumCheck
var natsLostQuorumCheck time.Duration

func init() {
	natsHBInterval = raftHeartbeat
	natsMinElectionTimeout = raftMinElectionTimeout
	natsMaxElectionTimeout = raftMaxElectionTimeout
	natsLostQuorumInterval = raftLostQuorum
	natsLostQuorumCheck = raftLostQuorum
}
