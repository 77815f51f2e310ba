package server

import (
	"github.com/distchat/distchat/server/hub"
	"github.com/distchat/distchat/server/ws"
)

// hubMetrics and wsMetrics are Config.Metrics as the hub and the connections take it: nil,
// so that they keep nothing, when the server has no metrics. (A nil *metrics.Metrics in
// the interface would not be nil.)
func (s *Server) hubMetrics() hub.Metrics {
	if s.cfg.Metrics == nil {
		return nil
	}
	return s.cfg.Metrics
}

func (s *Server) wsMetrics() ws.Metrics {
	if s.cfg.Metrics == nil {
		return nil
	}
	return s.cfg.Metrics
}

// watchMetrics makes the metrics read the hub and the broker when they are scraped.
func (s *Server) watchMetrics() error {
	if s.cfg.Metrics == nil {
		return nil
	}
	return s.cfg.Metrics.Watch(s.life, s.hub.Stats, s.broker)
}
