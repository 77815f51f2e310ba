package server

import (
	"runtime"
	"runtime/debug"
	"time"
)

// Memory after bursts of connections: a join storm leaves garbage (welcome objects,
// upgrade buffers) and goroutine stacks grown by the upgrade, and the Go runtime returns
// that memory to the OS only slowly, so an idle server would keep the footprint of its
// busiest minute. When the number of connections has moved a lot and then settled, the
// server runs one collection and returns free memory to the OS: idle connections then
// cost what they hold.
const (
	tidyEvery = 2 * time.Second
	// tidyAfterStart: opening a store reads its recent blocks (JetStream rebuilds its
	// dedupe window from them) and keeps them cached for 10 s; after this long they are
	// back in pools that two collections empty.
	tidyAfterStart = 16 * time.Second
	// tidyMinChange is the smallest change in connections since the last tidy worth one.
	tidyMinChange = 500
)

// tidyMemory runs until stop is closed.
func (s *Server) tidyMemory(stop <-chan struct{}) {
	t := time.NewTicker(tidyEvery)
	defer t.Stop()
	last, prev := 0, 0
	started := time.Now()
	for startTidy := true; ; {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if startTidy && time.Since(started) >= tidyAfterStart {
			startTidy = false
			runtime.GC() // the pools' victim caches go on the first collection, the rest on the second
			debug.FreeOSMemory()
			s.log.Debug("returned the memory of opening the store to the OS")
		}
		n := s.ws.Count()
		settled := abs(n-prev) <= max(n/100, 10)
		moved := abs(n-last) >= max(tidyMinChange, last/10)
		prev = n
		if settled && moved {
			start := time.Now()
			debug.FreeOSMemory()
			s.log.Debug("returned free memory to the OS", "connections", n, "took", time.Since(start))
			last = n
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
