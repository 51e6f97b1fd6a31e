package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
)

// docCommands returns every `warden ...` command line in the fenced code
// blocks of a Markdown file, with its line number.
func docCommands(t *testing.T, file string) map[int]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	start := regexp.MustCompile(`(?:^|[\s"'(])(warden\s.*)$`)
	out := map[int]string{}
	inBlock := false
	for i, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		if m := start.FindStringSubmatch(line); m != nil {
			out[i+1] = m[1]
		}
	}
	return out
}

// shellWords splits a command line as a shell would for our purposes:
// quotes group, CI expressions (${{ … }}) are one word, and the command ends
// at an unquoted |, &&, ;, > or #.
func shellWords(s string) []string {
	s = regexp.MustCompile(`\$\{\{[^}]*\}\}`).ReplaceAllString(s, "X")
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '|' || r == ';' || r == '>' || r == '#' || (r == '&' && strings.HasPrefix(s[i:], "&&")):
			if inWord {
				words = append(words, cur.String())
			}
			return words
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// yamlCommands returns the warden command lines of a CI file's scripts: a
// line (or a list item) that starts with warden, or warden after then/else;
// a command word held in a shell variable ("${args[@]}") is left out.
func yamlCommands(t *testing.T, file string) map[int]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	start := regexp.MustCompile(`(?:^\s*(?:-\s+)?|\bthen\s+|\belse\s+)(warden\s.*)$`)
	out := map[int]string{}
	for i, line := range strings.Split(string(b), "\n") {
		m := start.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if w := strings.Fields(m[1]); len(w) > 1 && strings.HasPrefix(strings.TrimLeft(w[1], `"`), "$") {
			continue
		}
		out[i+1] = m[1]
	}
	return out
}

// TestCIDocsCommands: every warden command line in docs/ci.md names a real
// (not placeholder) command, uses only flags it has, and passes its argument check.
func TestCIDocsCommands(t *testing.T) {
	repo := testutil.RepoRoot(t)
	file := filepath.Join(repo, "docs", "ci.md")
	type cmdLine struct{ file, text string }
	cmds := map[string]cmdLine{}
	for line, text := range docCommands(t, file) {
		cmds[fmt.Sprintf("docs/ci.md:%d", line)] = cmdLine{"docs/ci.md", text}
	}
	// The action and the GitLab template that docs/ci.md uses.
	for _, f := range []string{"action.yml", "ci/warden.gitlab-ci.yml"} {
		for line, text := range yamlCommands(t, filepath.Join(repo, f)) {
			cmds[fmt.Sprintf("%s:%d", f, line)] = cmdLine{f, text}
		}
	}
	if len(cmds) < 15 {
		t.Fatalf("found only %d warden command lines in docs/ci.md and the CI files", len(cmds))
	}
	seen := map[string]bool{}
	for line, c := range cmds {
		text := c.text
		args := shellWords(text)
		root := newRootCmd()
		cmd, rest, err := root.Find(args[1:])
		if err != nil || cmd == root {
			t.Errorf("%s: %q: no such command (%v)", line, text, err)
			continue
		}
		if cmd.Hidden {
			t.Errorf("%s: %q: %s is a placeholder", line, text, cmd.CommandPath())
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%s: %q: %v", line, text, err)
			continue
		}
		if cmd.Args != nil {
			if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
				t.Errorf("%s: %q: %v", line, text, err)
			}
		}
		if c.file == "docs/ci.md" || c.file == "action.yml" {
			seen[cmd.CommandPath()] = true
		}
	}
	t.Logf("%d command lines checked", len(cmds))
	for _, want := range []string{"warden scan", "warden check", "warden db update", "warden lint", "warden sign", "warden sbom", "warden attest"} {
		if !seen[want] {
			t.Errorf("docs/ci.md has no %q example", want)
		}
	}
}

func TestShellWords(t *testing.T) {
	got := shellWords(`warden check "registry:$IMAGE:${{ github.sha }}" --policy p.yaml | tee out # comment`)
	want := []string{"warden", "check", "registry:$IMAGE:X", "--policy", "p.yaml"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("shellWords = %q, want %q", got, want)
	}
	// A flag that does not exist is caught.
	root := newRootCmd()
	cmd, rest, _ := root.Find([]string{"check", "img", "--polcy", "x"})
	if err := cmd.ParseFlags(rest); err == nil {
		t.Error("an unknown flag parsed")
	}
}
