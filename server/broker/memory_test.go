package broker_test

import (
	"testing"
	"time"

	"github.com/distchat/distchat/server/broker"
	"github.com/distchat/distchat/server/broker/brokertest"
)

func TestMemory(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) broker.Broker { return broker.NewMemory(0, time.Minute) })
}
