package hub

import (
	"container/list"
	"sync"
)

// dmCache remembers the two people of the direct-message rooms used lately, at most
// maxCachedDMs of them (the least recently used go first): asking who may join a DM then
// reads storage once per room, and the cache cannot grow with the ids clients make up.
type dmCache struct {
	mu    sync.Mutex
	order *list.List // of *dmEntry, most recent first
	byKey map[string]*list.Element
	max   int
}

type dmEntry struct {
	room string
	ids  [2]string
}

// maxCachedDMs bounds the direct-message rooms a node remembers the people of.
const maxCachedDMs = 10_000

func newDMCache(max int) *dmCache {
	return &dmCache{order: list.New(), byKey: make(map[string]*list.Element), max: max}
}

func (c *dmCache) load(room string) ([2]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[room]
	if e == nil {
		return [2]string{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*dmEntry).ids, true
}

func (c *dmCache) store(room string, ids [2]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byKey[room]; e != nil {
		e.Value.(*dmEntry).ids = ids
		c.order.MoveToFront(e)
		return
	}
	c.byKey[room] = c.order.PushFront(&dmEntry{room: room, ids: ids})
	if c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*dmEntry).room)
	}
}

func (c *dmCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
