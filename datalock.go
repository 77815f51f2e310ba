package main

import "github.com/distchat/distchat/server/natsnode"

// lockDataDir locks the data directory of the embedded NATS for as long as the node runs,
// so that a second node, or a backup, restore or export, cannot use it at the same time
// (nats-server itself does not prevent it). The lock goes with the process, however it
// ends.
func lockDataDir(o *options) (release func(), err error) {
	if o.store != "jetstream" || o.natsURL != "" {
		return func() {}, nil
	}
	return natsnode.LockDataDir(o.data)
}
