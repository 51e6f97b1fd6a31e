package main

import (
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

// TestCIDocsCommands: every warden command line in docs/ci.md names a real
// (not placeholder) command, uses only flags it has, and passes its argument check.
func TestCIDocsCommands(t *testing.T) {
	file := filepath.Join(testutil.RepoRoot(t), "docs", "ci.md")
	cmds := docCommands(t, file)
	if len(cmds) < 15 {
		t.Fatalf("found only %d warden command lines in %s", len(cmds), file)
	}
	seen := map[string]bool{}
	for line, text := range cmds {
		args := shellWords(text)
		root := newRootCmd()
		cmd, rest, err := root.Find(args[1:])
		if err != nil || cmd == root {
			t.Errorf("docs/ci.md:%d: %q: no such command (%v)", line, text, err)
			continue
		}
		if cmd.Hidden {
			t.Errorf("docs/ci.md:%d: %q: %s is a placeholder", line, text, cmd.CommandPath())
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("docs/ci.md:%d: %q: %v", line, text, err)
			continue
		}
		if cmd.Args != nil {
			if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
				t.Errorf("docs/ci.md:%d: %q: %v", line, text, err)
			}
		}
		seen[cmd.CommandPath()] = true
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
