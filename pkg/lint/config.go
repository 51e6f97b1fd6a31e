package lint

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// remoteAdd matches an ADD of an http(s) URL as recorded in the history
// (classic builder: "/bin/sh -c #(nop) ADD https://… in /x"; BuildKit: "ADD https://… /x # buildkit").
var remoteAdd = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(^|\s|\)\s*)ADD\s+(--[a-z-]+(=\S+)?\s+)*(https?://\S+)`)
})

// pipeToShell matches a download piped into a shell: curl/wget … | [sudo] sh|bash|…
var pipeToShell = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b(curl|wget)\b[^|;&\n]*\|\s*(sudo\s+(-\S+\s+)*)?(/usr)?(/bin/)?(ba|da|z|k|a)?sh\b`)
})

// ConfigFindings runs the checks that need only the image config: user,
// environment, history, healthcheck and tag.
func ConfigFindings(cf *v1.ConfigFile, opt Options) []Finding {
	var out []Finding
	if cf == nil {
		cf = &v1.ConfigFile{}
	}
	if isRoot(cf.Config.User) {
		d := "no USER set: the container runs as root"
		if cf.Config.User != "" {
			d = fmt.Sprintf("USER is %q", cf.Config.User)
		}
		out = append(out, NewFinding(RootUser, d))
	}
	for _, kv := range cf.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		if m, ok := EnvSecret(k, v); ok {
			out = append(out, NewFinding(SecretEnv, fmt.Sprintf("ENV %s holds: %s (%s)", k, m.Title, m.Redacted)))
		}
	}
	current := map[string]bool{}
	for _, kv := range cf.Config.Env {
		current[kv] = true
	}
	for i, h := range cf.History {
		by := h.CreatedBy
		if by == "" {
			continue
		}
		for _, m := range historySecrets(by, current) {
			out = append(out, NewFinding(SecretHistory, fmt.Sprintf("history step %d: %s (%s)", i, m.Title, m.Redacted)))
		}
		if m := remoteAdd().FindStringSubmatch(by); m != nil {
			out = append(out, NewFinding(RemoteAdd, fmt.Sprintf("history step %d: ADD %s", i, RedactLine(m[4]))))
		}
		if pipeToShell().MatchString(by) {
			out = append(out, NewFinding(PipeToShell, fmt.Sprintf("history step %d: %s", i, shorten(RedactLine(by), 160))))
		}
	}
	hc := cf.Config.Healthcheck
	if hc == nil || len(hc.Test) == 0 || strings.EqualFold(hc.Test[0], "NONE") {
		out = append(out, NewFinding(NoHealthcheck, "the image config has no HEALTHCHECK"))
	}
	if d, bad := tagProblem(opt.Reference, opt.Tags); bad {
		out = append(out, NewFinding(LatestTag, d))
	}
	return out
}

// historySecrets finds secrets in one history line: the high-confidence
// patterns anywhere, plus NAME=VALUE assignments with secret names (build
// arguments are recorded as "|2 NAME=value NAME2=value /bin/sh -c …"). An
// ENV step whose NAME=VALUE is still in the config's environment is left to
// the environment check (one finding per secret).
func historySecrets(line string, currentEnv map[string]bool) []SecretMatch {
	if i := strings.Index(line, "ENV "); i >= 0 && (strings.Contains(line[:i], "#(nop)") || i == 0) {
		rest := strings.Fields(line[i+4:])
		all := len(rest) > 0
		for _, kv := range rest {
			if kv == "#" || kv == "buildkit" {
				continue
			}
			all = all && currentEnv[strings.Trim(kv, `"'`)]
		}
		if all {
			return nil
		}
	}
	ms := FindSecrets([]byte(line))
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.Rule] = true
	}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" || strings.ContainsAny(k, "$(){}\"'") {
			continue
		}
		if m, ok := EnvSecret(k, strings.Trim(v, `"'`)); ok && !seen[m.Rule] {
			m.Title = k + ": " + m.Title
			ms = append(ms, m)
			seen[m.Rule] = true
		}
	}
	return ms
}

func isRoot(user string) bool {
	u, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	return u == "" || u == "root" || u == "0"
}

// tagProblem reports a `latest` tag or a reference with neither tag nor digest.
func tagProblem(ref string, tags []string) (string, bool) {
	for _, t := range tags {
		if strings.HasSuffix(t, ":latest") {
			return fmt.Sprintf("the image is tagged %q", t), true
		}
	}
	if ref == "" {
		return "", false
	}
	// Only plain references (registry/daemon) carry a tag; paths to archives do not.
	r := ref
	for _, p := range []string{"registry:", "docker:", "docker-daemon:"} {
		r = strings.TrimPrefix(r, p)
	}
	if strings.Contains(r, ":/") || strings.HasPrefix(r, "/") || strings.HasPrefix(r, ".") ||
		strings.HasPrefix(r, "docker-archive:") || strings.HasPrefix(r, "oci-layout:") ||
		strings.HasPrefix(r, "oci-archive:") || strings.HasPrefix(r, "dir:") {
		return "", false
	}
	if strings.Contains(r, "@sha256:") {
		return "", false
	}
	pr, err := name.ParseReference(r, name.WithDefaultTag(""))
	if err != nil {
		return "", false
	}
	t, ok := pr.(name.Tag)
	if !ok {
		return "", false
	}
	switch t.TagStr() {
	case "":
		return fmt.Sprintf("%q has no tag: it means `latest`", ref), true
	case "latest":
		return fmt.Sprintf("%q uses the `latest` tag", ref), true
	}
	return "", false
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
