package hub

import (
	"fmt"
	"testing"
)

// TestDMCacheIsBounded: the cache keeps the rooms used lately, at most its bound.
func TestDMCacheIsBounded(t *testing.T) {
	c := newDMCache(3)
	for i := range 5 {
		c.store(fmt.Sprint("dm-", i), [2]string{"a", fmt.Sprint(i)})
	}
	if c.len() != 3 {
		t.Fatalf("%d rooms cached, want 3", c.len())
	}
	if _, ok := c.load("dm-0"); ok {
		t.Fatal("the oldest room is still cached")
	}
	c.load("dm-2") // used again: kept over dm-3
	c.store("dm-5", [2]string{"a", "5"})
	if _, ok := c.load("dm-3"); ok {
		t.Fatal("the least recently used room was kept")
	}
	if ids, ok := c.load("dm-2"); !ok || ids[1] != "2" {
		t.Fatalf("dm-2: %v %v", ids, ok)
	}
}
