package lint

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
)

// SecretRule is one high-confidence secret pattern. The set is deliberately
// small: each pattern has a fixed prefix or structure that ordinary text does
// not have, so a match is worth a CRITICAL finding.
type SecretRule struct {
	ID      string         // stable name, e.g. "aws-access-key-id"
	Title   string         // what it is, for the finding
	Keyword string         // cheap pre-filter: the pattern cannot match without it
	Re      *regexp.Regexp // the match; group 1 (when present) is the secret itself
}

// SecretRules are the patterns Warden looks for in environment variables,
// build history and small files (compiled on first use: a command that lints
// nothing does not pay for them at start).
var SecretRules = sync.OnceValue(func() []SecretRule {
	return []SecretRule{
		{"private-key", "private key (PEM)", "PRIVATE KEY",
			regexp.MustCompile(`-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----`)},
		{"aws-access-key-id", "AWS access key ID", "",
			regexp.MustCompile(`(?:^|[^A-Z0-9])((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?:[^A-Z0-9]|$)`)},
		{"github-token", "GitHub token", "gh",
			regexp.MustCompile(`(?:^|[^A-Za-z0-9_])(gh[pousr]_[A-Za-z0-9]{36})(?:[^A-Za-z0-9_]|$)`)},
		{"github-fine-grained-pat", "GitHub fine-grained personal access token", "github_pat_",
			regexp.MustCompile(`(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})`)},
		{"gitlab-token", "GitLab personal access token", "glpat-",
			regexp.MustCompile(`(glpat-[A-Za-z0-9_-]{20})(?:[^A-Za-z0-9_-]|$)`)},
		{"slack-token", "Slack token", "xox",
			regexp.MustCompile(`(xox[baprs]-[0-9]{6,}-[0-9A-Za-z-]{10,})`)},
		{"google-api-key", "Google API key", "AIza",
			regexp.MustCompile(`(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)`)},
		{"stripe-live-key", "Stripe live secret key", "_live_",
			regexp.MustCompile(`((?:sk|rk)_live_[0-9a-zA-Z]{24,})`)},
	}
})

// awsKeyPrefixes pre-filter the AWS rule (it has no single keyword).
var awsKeyPrefixes = [][]byte{[]byte("AKIA"), []byte("ASIA"), []byte("ABIA"), []byte("ACCA")}

// SecretMatch is one secret found in a text.
type SecretMatch struct {
	Rule     string // SecretRule.ID
	Title    string
	Redacted string // the first characters of the secret, then "…"; never the whole secret
}

// FindSecrets returns the secrets in b, at most one per rule. It never returns
// the secret itself.
func FindSecrets(b []byte) []SecretMatch {
	var out []SecretMatch
	for _, r := range SecretRules() {
		if r.Keyword != "" {
			if !bytes.Contains(b, []byte(r.Keyword)) {
				continue
			}
		} else if !containsAny(b, awsKeyPrefixes) {
			continue
		}
		m := r.Re.FindSubmatch(b)
		if m == nil {
			continue
		}
		secret := string(m[0])
		if len(m) > 1 && len(m[1]) > 0 {
			secret = string(m[1])
		}
		red := redact(secret)
		if r.ID == "private-key" {
			red = "-----BEGIN " + secret + "-----"
		}
		out = append(out, SecretMatch{Rule: r.ID, Title: r.Title, Redacted: red})
	}
	return out
}

func containsAny(b []byte, subs [][]byte) bool {
	for _, s := range subs {
		if bytes.Contains(b, s) {
			return true
		}
	}
	return false
}

// redact keeps at most the first 4 characters (6 for long, prefixed tokens) of a secret.
func redact(s string) string {
	n := 4
	if len(s) >= 30 {
		n = 6
	}
	if len(s) <= n {
		return "…"
	}
	return s[:n] + "…"
}

// secretEnvName: environment variable names that hold secrets by convention.
var secretEnvName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(^|_)(PASSWORD|PASSWD|PASS|SECRET|SECRET_KEY|SECRET_ACCESS_KEY|TOKEN|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY|CLIENT_SECRET|AUTH_TOKEN|CREDENTIALS?)$`)
})

// envNotSecret: suffixes that make a secret-sounding name point at something else.
var envNotSecret = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)_(FILE|PATH|DIR|URL|URI|HOST|PORT|USER|USERNAME|NAME|ID|LENGTH|LEN|TTL|EXPIRY|HEADER|ENABLED)$`)
})

// placeholder values are not secrets.
var placeholderValue = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)^(|x+|\*+|none|null|nil|changeme|change_me|changeit|secret|password|token|example|dummy|test|todo|redacted|<.*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)$`)
})

// EnvSecret reports whether an environment variable NAME=VALUE holds a
// secret: any SecretRules() pattern in the value, or a secret-named variable
// (…_PASSWORD, …_TOKEN, …_SECRET_ACCESS_KEY, …) with a real-looking value (at
// least 8 characters, not a path, not a placeholder or a ${REF}).
func EnvSecret(name, value string) (SecretMatch, bool) {
	if ms := FindSecrets([]byte(value)); len(ms) > 0 {
		return ms[0], true
	}
	if !secretEnvName().MatchString(name) || envNotSecret().MatchString(name) {
		return SecretMatch{}, false
	}
	v := strings.TrimSpace(value)
	if len(v) < 8 || strings.HasPrefix(v, "/") || placeholderValue().MatchString(v) {
		return SecretMatch{}, false
	}
	return SecretMatch{Rule: "secret-env-name", Title: "password or token (by the variable's name)", Redacted: redact(v)}, true
}

// RedactLine replaces every secret in a line of text (pattern matches, and
// the values of secret-named NAME=VALUE words) by its redacted form, so the
// line can be shown.
func RedactLine(line string) string {
	for _, r := range SecretRules() {
		line = r.Re.ReplaceAllStringFunc(line, func(m string) string {
			sub := r.Re.FindStringSubmatch(m)
			if len(sub) > 1 && sub[1] != "" && r.ID != "private-key" {
				return strings.Replace(m, sub[1], redact(sub[1]), 1)
			}
			return m
		})
	}
	words := strings.Fields(line)
	changed := false
	for i, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			continue
		}
		if _, secret := EnvSecret(k, strings.Trim(v, `"'`)); secret {
			words[i] = k + "=" + redact(strings.Trim(v, `"'`))
			changed = true
		}
	}
	if changed {
		return strings.Join(words, " ")
	}
	return line
}
