package facts

import (
	"testing"
	"time"
)

func TestPredicateTime(t *testing.T) {
	want := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, pred string
		zero       bool
	}{
		{"cyclonedx", `{"bomFormat":"CycloneDX","metadata":{"timestamp":"2026-11-20T10:00:00Z"}}`, false},
		{"spdx", `{"spdxVersion":"SPDX-2.3","creationInfo":{"created":"2026-11-20T10:00:00Z"}}`, false},
		{"cosign vuln", `{"scanner":{},"metadata":{"scanStartedOn":"2026-11-19T10:00:00Z","scanFinishedOn":"2026-11-20T10:00:00Z"}}`, false},
		{"cosign custom", `{"Data":"x","Timestamp":"2026-11-20T10:00:00Z"}`, false},
		{"slsa v1", `{"runDetails":{"metadata":{"finishedOn":"2026-11-20T10:00:00Z"}}}`, false},
		{"none", `{"foo":"bar"}`, true},
		{"not a time", `{"metadata":{"timestamp":"yesterday"}}`, true},
		{"not json", `{`, true},
	} {
		got := PredicateTime([]byte(c.pred))
		if c.zero != got.IsZero() || (!c.zero && !got.Equal(want)) {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}
