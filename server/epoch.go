package server

import "time"

// epochCheck is how often the server looks whether the store was made anew.
const epochCheck = time.Second

// watchEpoch closes every connection when the store's epoch changes (a backup restored
// under a running node, a re-created stream): their seqs name other entries now, and the
// clients reconnect and start afresh (a join with since and the old epoch gets reset).
func (s *Server) watchEpoch(stop <-chan struct{}) {
	t := time.NewTicker(epochCheck)
	defer t.Stop()
	seen := s.broker.Epoch()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		e := s.broker.Epoch()
		if e != seen && seen != "" && e != "" {
			s.log.Warn("the message store was made anew: closing every connection so that clients start afresh", "epoch", e, "was", seen)
			s.hub.Restart("the message store was restored or re-created; reconnect")
		}
		if e != "" {
			seen = e
		}
	}
}
