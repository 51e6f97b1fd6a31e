package cvss

import (
	"errors"
	"testing"
)

func TestScore(t *testing.T) {
	// Scores as computed by NVD / FIRST's calculators.
	for _, tc := range []struct {
		vec, ver string
		score    float64
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1", 9.8},
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", "3.1", 7.4}, // GHSA-p6mc-m468-83gw
		{"CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:N/I:N/A:H", "3.1", 4.4}, // CVE-2023-7192 (Ubuntu OVAL)
		{"CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H", "3.1", 7.0}, // CVE-2023-6270
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "3.1", 6.1},
		{"CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", "3.0", 9.9},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "3.1", 0},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", "2.0", 7.5}, // CVE-2021-44906 v2
		{"AV:N/AC:M/Au:N/C:N/I:P/A:N", "2.0", 4.3},
		{"(AV:L/AC:L/Au:N/C:C/I:C/A:C)", "2.0", 7.2},
	} {
		ver, score, err := Score(tc.vec)
		if err != nil || ver != tc.ver || score != tc.score {
			t.Errorf("Score(%q) = %s %v %v, want %s %v", tc.vec, ver, score, err, tc.ver, tc.score)
		}
	}
	// v4.0, as FIRST's calculator scores them.
	for vec, want := range map[string]float64{
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N": 9.3,
		"CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N": 8.5,
	} {
		if ver, score, err := Score(vec); err != nil || ver != "4.0" || score != want {
			t.Errorf("Score(%q) = %s %v %v, want 4.0 %v", vec, ver, score, err, want)
		}
	}
	if _, _, err := Score("CVSS:5.0/AV:N"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("v5: err = %v", err)
	}
	if _, _, err := Score("CVSS:4.0/AV:N"); err == nil {
		t.Error("incomplete v4 vector: want an error")
	}
	for _, bad := range []string{"", "CVSS:3.1/AV:N", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"} {
		if _, _, err := Score(bad); err == nil {
			t.Errorf("Score(%q): want an error", bad)
		}
	}
}

func FuzzScore(f *testing.F) {
	f.Add("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
	f.Add("AV:N/AC:L/Au:N/C:P/I:P/A:P")
	f.Add("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
	f.Fuzz(func(t *testing.T, v string) {
		_, s, err := Score(v)
		if err == nil && (s < 0 || s > 10) {
			t.Fatalf("Score(%q) = %v", v, s)
		}
	})
}
