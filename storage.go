package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/jetstream"
	"github.com/distchat/distchat/server/natsnode"
	"github.com/distchat/distchat/server/presence"
	"github.com/distchat/distchat/server/presence/natsbus"
)

// openStorage opens the message store the options name: the embedded NATS JetStream under
// --data (default; clustered with --cluster-listen), an external NATS (--nats-url), or
// memory. It returns at once: the store becomes ready in the background (a cluster waits
// for its peers) and the node reports it on /api/ready. The presence bus is nil for a node
// alone (no other node can exist: the embedded store without a cluster, or memory).
func openStorage(ctx context.Context, o *options, log *slog.Logger) (broker.Broker, presence.Bus, error) {
	if o.store == "memory" {
		log.Warn("messages are kept in memory only: a restart loses the history")
		return broker.NewMemory(int(o.roomMaxMessages), broker.DefaultDedupeWindow), nil, nil
	}
	jo := jetstream.Options{
		MaxMsgsPerRoom: o.roomMaxMessages, MaxAge: o.roomMaxAge, Replicas: o.replicas, Logger: log,
	}
	if o.natsURL != "" {
		// The disk is the NATS servers': only the operator's limit applies.
		jo.MaxBytes = o.maxStoreBytes
	}
	var (
		b   *jetstream.Broker
		err error
	)
	clustered := o.clusterListen != "" || o.natsURL != ""
	switch {
	case o.natsURL != "":
		b, err = jetstream.Connect(ctx, o.natsURL, jo)
		log.Info("message storage: external NATS JetStream", "node", o.nodeName)
	default:
		eo := natsnode.Options{DataDir: o.data, ServerName: o.nodeName, SyncAlways: o.syncAlways, MaxStoreBytes: o.maxStoreBytes, Logger: log}
		if o.clusterListen != "" {
			eo.Cluster = natsnode.ClusterOptions{Name: o.clusterName, Listen: o.clusterListen, Peers: splitList(o.clusterPeers), Secret: o.clusterKey}
			if o.clusterTLSCert != "" {
				if eo.Cluster.TLS, err = natsnode.RouteTLS(o.clusterTLSCert, o.clusterTLSKey, o.clusterTLSCA); err != nil {
					return nil, nil, err
				}
			}
			log.Info("message storage: embedded NATS JetStream, clustered", "node", o.nodeName,
				"routes", o.clusterListen, "route_tls", eo.Cluster.TLS != nil, "nodes", eo.Cluster.Size(), "data", o.data)
		} else {
			log.Info("message storage: embedded NATS JetStream", "data", o.data)
		}
		b, err = jetstream.OpenEmbedded(ctx, eo, jo)
	}
	if err != nil {
		return nil, nil, err
	}
	if !clustered {
		return b, nil, nil
	}
	bus, err := natsbus.New(b.Conn(), natsbus.Options{Node: o.nodeName, Logger: log})
	if err != nil {
		_ = b.Close()
		return nil, nil, err
	}
	return b, bus, nil
}

// defaultNodeName is the host name, which is stable and, on most networks, unique.
func defaultNodeName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "distchat"
}
