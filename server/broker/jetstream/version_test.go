package jetstream

import (
	"strings"
	"testing"
)

// TestOldNATSServerRefused: a NATS server older than 2.11 answers no batched read; a
// broker refuses to start on it, naming the version it needs.
func TestOldNATSServerRefused(t *testing.T) {
	for v, ok := range map[string]bool{"2.9.10": false, "2.10.29": false, "v2.11.0": true, "2.15.2": true, "2.12.0-RC.1": true, "3.0.0": true} {
		err := versionError(v)
		if (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "2.11 or newer")) {
			t.Errorf("version %s: %v, want ok %v", v, err, ok)
		}
	}
}
