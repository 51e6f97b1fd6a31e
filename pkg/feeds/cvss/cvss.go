// Package cvss computes CVSS base scores from vector strings following the
// FIRST specifications: v2.0, v3.0 and v3.1 here, v4.0 through
// github.com/pandatix/go-cvss (v4 scoring needs FIRST's macro-vector tables).
package cvss

import (
	"errors"
	"fmt"
	"math"
	"strings"

	cvss40 "github.com/pandatix/go-cvss/40"
)

// ErrUnsupported is returned for vector versions this package does not score.
var ErrUnsupported = errors.New("unsupported CVSS version")

// Score parses a vector and returns its CVSS version ("2.0", "3.0", "3.1",
// "4.0") and base score.
func Score(vector string) (version string, score float64, err error) {
	vector = strings.TrimSpace(vector)
	switch {
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		s, err := v3(vector[len("CVSS:3.1/"):], true)
		return "3.1", s, err
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		s, err := v3(vector[len("CVSS:3.0/"):], false)
		return "3.0", s, err
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		c, err := cvss40.ParseVector(vector)
		if err != nil {
			return "4.0", 0, fmt.Errorf("CVSS v4 vector %q: %w", vector, err)
		}
		return "4.0", c.Score(), nil
	case strings.HasPrefix(vector, "CVSS:"):
		return "", 0, fmt.Errorf("vector %q: %w", vector, ErrUnsupported)
	}
	s, err := v2(strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(vector, "("), ")"), "CVSS:2.0/"))
	return "2.0", s, err
}

func parse(vec string, need []string) (map[string]string, error) {
	m := map[string]string{}
	for _, part := range strings.Split(vec, "/") {
		k, v, ok := strings.Cut(part, ":")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("malformed metric %q", part)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("metric %s given twice", k)
		}
		m[k] = v
	}
	for _, k := range need {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("missing base metric %s", k)
		}
	}
	return m, nil
}

func pick(m map[string]string, k string, vals map[string]float64) (float64, error) {
	v, ok := vals[m[k]]
	if !ok {
		return 0, fmt.Errorf("metric %s has unknown value %q", k, m[k])
	}
	return v, nil
}

func v3(vec string, v31 bool) (float64, error) {
	m, err := parse(vec, []string{"AV", "AC", "PR", "UI", "S", "C", "I", "A"})
	if err != nil {
		return 0, fmt.Errorf("CVSS v3 vector %q: %w", vec, err)
	}
	changed := m["S"] == "C"
	if m["S"] != "C" && m["S"] != "U" {
		return 0, fmt.Errorf("CVSS v3 vector %q: metric S has unknown value %q", vec, m["S"])
	}
	prVals := map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}
	if changed {
		prVals = map[string]float64{"N": 0.85, "L": 0.68, "H": 0.5}
	}
	cia := map[string]float64{"H": 0.56, "L": 0.22, "N": 0}
	var f [7]float64
	for i, x := range []struct {
		k    string
		vals map[string]float64
	}{
		{"AV", map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}},
		{"AC", map[string]float64{"L": 0.77, "H": 0.44}},
		{"PR", prVals},
		{"UI", map[string]float64{"N": 0.85, "R": 0.62}},
		{"C", cia}, {"I", cia}, {"A", cia},
	} {
		if f[i], err = pick(m, x.k, x.vals); err != nil {
			return 0, fmt.Errorf("CVSS v3 vector %q: %w", vec, err)
		}
	}
	iss := 1 - (1-f[4])*(1-f[5])*(1-f[6])
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	expl := 8.22 * f[0] * f[1] * f[2] * f[3]
	if impact <= 0 {
		return 0, nil
	}
	round := roundUp30
	if v31 {
		round = roundUp31
	}
	if changed {
		return round(math.Min(1.08*(impact+expl), 10)), nil
	}
	return round(math.Min(impact+expl, 10)), nil
}

func roundUp30(x float64) float64 { return math.Ceil(x*10) / 10 }

// roundUp31 is the v3.1 specification's floating-point-safe Roundup.
func roundUp31(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

func v2(vec string) (float64, error) {
	m, err := parse(vec, []string{"AV", "AC", "Au", "C", "I", "A"})
	if err != nil {
		return 0, fmt.Errorf("CVSS v2 vector %q: %w", vec, err)
	}
	cia := map[string]float64{"N": 0, "P": 0.275, "C": 0.660}
	var f [6]float64
	for i, x := range []struct {
		k    string
		vals map[string]float64
	}{
		{"AV", map[string]float64{"L": 0.395, "A": 0.646, "N": 1.0}},
		{"AC", map[string]float64{"H": 0.35, "M": 0.61, "L": 0.71}},
		{"Au", map[string]float64{"M": 0.45, "S": 0.56, "N": 0.704}},
		{"C", cia}, {"I", cia}, {"A", cia},
	} {
		if f[i], err = pick(m, x.k, x.vals); err != nil {
			return 0, fmt.Errorf("CVSS v2 vector %q: %w", vec, err)
		}
	}
	impact := 10.41 * (1 - (1-f[3])*(1-f[4])*(1-f[5]))
	expl := 20 * f[0] * f[1] * f[2]
	fi := 1.176
	if impact == 0 {
		fi = 0
	}
	return math.Round(((0.6*impact)+(0.4*expl)-1.5)*fi*10) / 10, nil
}
