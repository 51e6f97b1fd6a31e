package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// exitDoc reads docs/exit-codes.md's table: code → its "when" column.
func exitDoc(t *testing.T) map[int]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "exit-codes.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[int]string{}
	for _, m := range regexp.MustCompile(`(?m)^\|\s*(\d+)\s*\|[^|]*\|(.*)\|\s*$`).FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.Atoi(m[1])
		rows[n] = m[2]
	}
	if len(rows) < 3 {
		t.Fatalf("docs/exit-codes.md: no table of codes found")
	}
	return rows
}

// run is one transcript: a command line, its exit code, and the words of
// docs/exit-codes.md's row for that code that say why (checked against the doc).
type run struct {
	name string
	code int
	doc  string // a phrase of the code's row in docs/exit-codes.md
	args []string
}

// transcriptRun runs r, compares "$ command", the exit code, stdout and
// stderr with testdata/<dir>/<name>.txt (-update rewrites it) after mask,
// and checks the code against the documented table. It returns stdout and stderr.
func transcriptRun(t *testing.T, dir string, r run, mask func(string) string) (string, string) {
	t.Helper()
	stdout, stderr, code := runWardenCmd(t, r.args...)
	clean := func(s string) string {
		if mask != nil {
			s = mask(s)
		}
		return tmpPath.ReplaceAllString(s, "$$TMP")
	}
	got := fmt.Sprintf("$ warden %s\nexit %d\n-- stdout --\n%s-- stderr --\n%s", clean(strings.Join(r.args, " ")), code, clean(stdout), clean(stderr))
	if !strings.HasSuffix(got, "\n") {
		got += "\n"
	}
	checkGolden(t, filepath.Join(dir, r.name+".txt"), got)
	if code != r.code {
		t.Errorf("%s: exit %d, want %d\n%s", r.name, code, r.code, got)
	}
	row, ok := exitDoc(t)[r.code]
	if !ok || !strings.Contains(row, r.doc) {
		t.Errorf("%s: exit %d: docs/exit-codes.md's row %q does not say %q", r.name, r.code, row, r.doc)
	}
	return stdout, stderr
}
