package lint

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	awsKeyID    = "AKIAIOSFODNN7EXAMPLE" // AWS's documented example key id
	githubToken = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
)

func ecKeyPEM(t testing.TB) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

// withConfig replaces img's config (keeping rootfs) with cfg's Config and History.
func withConfig(t testing.TB, img v1.Image, conf v1.Config, history []v1.History) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config = conf
	if history != nil {
		cf.History = history
	}
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestConfigFindings(t *testing.T) {
	hc := &v1.HealthConfig{Test: []string{"CMD", "wget", "-q", "-O-", "http://localhost/health"}}
	cases := []struct {
		name string
		cf   v1.ConfigFile
		opt  Options
		want []string
	}{
		{"clean", v1.ConfigFile{Config: v1.Config{User: "app", Healthcheck: hc}}, Options{Reference: "registry.example.com/app:1.2.3"}, nil},
		{"no user", v1.ConfigFile{Config: v1.Config{Healthcheck: hc}}, Options{}, []string{RootUser}},
		{"user root:root", v1.ConfigFile{Config: v1.Config{User: "root:root", Healthcheck: hc}}, Options{}, []string{RootUser}},
		{"user 0", v1.ConfigFile{Config: v1.Config{User: "0", Healthcheck: hc}}, Options{}, []string{RootUser}},
		{"user 1000:0", v1.ConfigFile{Config: v1.Config{User: "1000:0", Healthcheck: hc}}, Options{}, nil},
		{"healthcheck NONE", v1.ConfigFile{Config: v1.Config{User: "app", Healthcheck: &v1.HealthConfig{Test: []string{"NONE"}}}}, Options{}, []string{NoHealthcheck}},
		{"env secrets", v1.ConfigFile{Config: v1.Config{User: "app", Healthcheck: hc, Env: []string{
			"PATH=/usr/bin", "AWS_ACCESS_KEY_ID=" + awsKeyID, "GITHUB=" + githubToken,
			"DB_PASSWORD=s3cr3t-Pa55w0rd!", "PASSWORD_FILE=/run/secrets/db", "API_TOKEN=${API_TOKEN}",
			"ADMIN_PASSWORD=changeme", "JAVA_VERSION=17.0.2", "SECRET_KEY_BASE=",
		}}}, Options{}, []string{SecretEnv, SecretEnv, SecretEnv}},
		{"history", v1.ConfigFile{Config: v1.Config{User: "app", Healthcheck: hc}, History: []v1.History{
			{CreatedBy: "/bin/sh -c #(nop) ADD https://example.com/tool.tar.gz in /opt/ "},
			{CreatedBy: "ADD --chown=1000 https://example.com/x /x # buildkit"},
			{CreatedBy: "RUN /bin/sh -c curl -fsSL https://get.example.com | sh # buildkit"},
			{CreatedBy: "RUN /bin/sh -c wget -qO- https://x.example.com/install.sh | sudo -E bash -"},
			{CreatedBy: "|1 NPM_TOKEN=npm_abcdefgh12345678 /bin/sh -c npm ci"},
			{CreatedBy: "COPY ./app /app # buildkit"},
			{CreatedBy: "RUN /bin/sh -c curl -o /tmp/x https://example.com/x && sha256sum -c x.sha256"},
		}}, Options{}, []string{RemoteAdd, RemoteAdd, PipeToShell, PipeToShell, SecretHistory}},
		{"env step in history counted once", v1.ConfigFile{Config: v1.Config{User: "app", Healthcheck: hc, Env: []string{"APP_PASSWORD=Sup3rS3cretValue"}}, History: []v1.History{
			{CreatedBy: "/bin/sh -c #(nop)  ENV APP_PASSWORD=Sup3rS3cretValue"},
			{CreatedBy: "ENV APP_PASSWORD=Sup3rS3cretValue # buildkit"},
			{CreatedBy: "/bin/sh -c #(nop)  ENV OLD_TOKEN=an-old-token-value"}, // overwritten later: only the history has it
		}}, Options{}, []string{SecretEnv, SecretHistory}},
		{"latest tag", v1.ConfigFile{Config: v1.Config{User: "app", Healthcheck: hc}}, Options{Reference: "alpine:latest"}, []string{LatestTag}},
		{"no tag", v1.ConfigFile{Config: v1.Config{User: "app", Healthcheck: hc}}, Options{Reference: "registry:localhost:5000/app"}, []string{LatestTag}},
		{"digest", v1.ConfigFile{Config: v1.Config{User: "app", Healthcheck: hc}}, Options{Reference: "alpine@sha256:" + strings.Repeat("a", 64)}, nil},
		{"archive path", v1.ConfigFile{Config: v1.Config{User: "app", Healthcheck: hc}}, Options{Reference: "docker-archive:/tmp/app.tar"}, nil},
		{"repo tag latest", v1.ConfigFile{Config: v1.Config{User: "app", Healthcheck: hc}}, Options{Tags: []string{"app:latest"}}, []string{LatestTag}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ConfigFindings(&c.cf, c.opt)
			Sort(got)
			want := append([]string(nil), c.want...)
			if d := cmp.Diff(sortedIDs(want), sortedIDs(ids(got))); d != "" {
				t.Errorf("ids (-want +got):\n%s\n%+v", d, got)
			}
			for _, f := range got {
				for _, s := range []string{awsKeyID, githubToken, "s3cr3t-Pa55w0rd!", "npm_abcdefgh12345678"} {
					if strings.Contains(f.Detail, s) {
						t.Errorf("finding %s leaks the secret: %q", f.ID, f.Detail)
					}
				}
				if f.Why == "" || f.Fix == "" || f.Severity == "" {
					t.Errorf("finding %s lacks why/fix/severity", f.ID)
				}
			}
		})
	}
}

func sortedIDs(s []string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestFindSecrets(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...", []string{"private-key"}},
		{"-----BEGIN PRIVATE KEY-----", []string{"private-key"}},
		{"-----BEGIN PUBLIC KEY-----", nil},
		{"-----BEGIN CERTIFICATE-----", nil},
		{"aws_access_key_id = " + awsKeyID + "\n", []string{"aws-access-key-id"}},
		{"AKIA" + strings.Repeat("A", 20), nil}, // too long: not a key id
		{"token: " + githubToken, []string{"github-token"}},
		{"ghp_short", nil},
		{"github_pat_" + strings.Repeat("a", 22) + "_" + strings.Repeat("B", 59), []string{"github-fine-grained-pat"}},
		{"SLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp", []string{"slack-token"}},
		{"key=AIza" + strings.Repeat("x", 35), []string{"google-api-key"}},
		{"glpat-abcdefghij0123456789", []string{"gitlab-token"}},
		{"sk_live_" + strings.Repeat("a1", 12), []string{"stripe-live-key"}},
		{"sk_test_" + strings.Repeat("a1", 12), nil},
		{"password: hunter2", nil}, // generic text is not a high-confidence match
	}
	for _, c := range cases {
		var got []string
		for _, m := range FindSecrets([]byte(c.in)) {
			got = append(got, m.Rule)
			if m.Rule != "private-key" && strings.Contains(c.in, m.Redacted) && len(m.Redacted) > 8 {
				t.Errorf("%q: redacted form %q is too long", c.in, m.Redacted)
			}
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("FindSecrets(%q) (-want +got):\n%s", c.in, d)
		}
	}
}

// leakyImage: layer 0 adds a private key, an AWS credentials file, a setuid
// binary, apt caches and an apk cache; layer 1 deletes the key and the .deb
// (whiteouts) and replaces the credentials file; layer 2 removes the setuid
// bit's file through an opaque directory and adds a clean app.
func leakyImage(t testing.TB) v1.Image {
	t.Helper()
	key := ecKeyPEM(t)
	l0 := testimage.Layer(t,
		testimage.Dir("root"), testimage.Dir("root/.ssh"),
		testimage.Reg("root/.ssh/id_ecdsa", key),
		testimage.Reg("root/.aws/credentials", "[default]\naws_access_key_id = "+awsKeyID+"\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
		testimage.File{Path: "usr/bin/su", Content: []byte("\x7fELF..."), Mode: 0o4755},
		testimage.File{Path: "usr/bin/wall", Content: []byte("\x7fELF..."), Mode: 0o2755},
		testimage.File{Path: "opt/tool/helper", Content: []byte("#!/bin/sh\n"), Mode: 0o6755},
		testimage.Reg("var/cache/apt/archives/curl_7.88.1-10+deb12u8_amd64.deb", strings.Repeat("x", 2048)),
		testimage.Reg("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4", strings.Repeat("y", 4096)),
		testimage.Reg("var/lib/apt/lists/lock", ""),
		testimage.Reg("usr/share/doc/openssl/example.key", key), // documentation: not scanned
	)
	l1 := testimage.Layer(t,
		testimage.Whiteout("root/.ssh/id_ecdsa"),
		testimage.Whiteout("var/cache/apt/archives/curl_7.88.1-10+deb12u8_amd64.deb"),
		testimage.Reg("root/.aws/credentials", "[default]\nregion = eu-west-1\n"),
	)
	l2 := testimage.Layer(t,
		testimage.Opaque("opt/tool"),
		testimage.Reg("opt/tool/README", "nothing here\n"),
		testimage.Reg("app/config.yaml", "github_token: "+githubToken+"\n"),
		testimage.Reg("root/.cache/pip/http/a/b/c", strings.Repeat("z", 100)),
	)
	return testimage.Image(t, nil, l0, l1, l2)
}

func TestFileFindings(t *testing.T) {
	img := leakyImage(t)
	layers, _ := img.Layers()
	fs, size, err := FileFindings(context.Background(), layers, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if size <= 0 {
		t.Errorf("size = %d", size)
	}
	type key struct {
		ID, Path string
		Layer    int
		Removed  int
	}
	var got []key
	for _, f := range fs {
		k := key{f.ID, f.Path, -1, -1}
		if f.LayerIndex != nil {
			k.Layer = *f.LayerIndex
		}
		if f.RemovedInLayer != nil {
			k.Removed = *f.RemovedInLayer
		}
		got = append(got, k)
	}
	want := []key{
		{SecretFile, "/root/.ssh/id_ecdsa", 0, 1},    // deleted in layer 1: still leaked
		{SecretFile, "/root/.aws/credentials", 0, 1}, // AWS key id pattern
		{SecretFile, "/root/.aws/credentials", 0, 1}, // the credentials file rule
		{SetuidFile, "/usr/bin/su", 0, -1},           // still there
		{SetuidFile, "/usr/bin/wall", 0, -1},         // setgid
		{SecretFile, "/app/config.yaml", 2, -1},      // GitHub token
		{PackageCache, "/var/lib/apt/lists", 0, -1},  // the .deb was deleted, the lists were not
		{PackageCache, "/root/.cache/pip", 2, -1},    // pip cache
	}
	Sort(fs)
	less := func(a, b key) bool {
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Layer < b.Layer
	}
	if d := cmp.Diff(want, got, cmpSortKeys(less)); d != "" {
		t.Errorf("findings (-want +got):\n%s\n%s", d, dump(fs))
	}
	for _, f := range fs {
		if strings.Contains(f.Detail, "PRIVATE KEY-----\nM") || strings.Contains(f.Detail, githubToken) {
			t.Errorf("detail leaks a secret: %q", f.Detail)
		}
	}
}

func cmpSortKeys[T any](less func(a, b T) bool) cmp.Option {
	return cmp.Transformer("sort", func(in []T) []T {
		out := append([]T(nil), in...)
		for i := range out {
			for j := i + 1; j < len(out); j++ {
				if less(out[j], out[i]) {
					out[i], out[j] = out[j], out[i]
				}
			}
		}
		return out
	})
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// TestLintGolden runs every check on a built image and compares the JSON
// report with testdata/leaky.golden.json (run with -update to rewrite).
func TestLintGolden(t *testing.T) {
	img := withConfig(t, leakyImage(t), v1.Config{
		Env: []string{"PATH=/usr/bin", "AWS_ACCESS_KEY_ID=" + awsKeyID},
	}, []v1.History{
		{CreatedBy: "ADD https://example.com/tool.tar.gz /opt/tool # buildkit"},
		{CreatedBy: "RUN /bin/sh -c curl -fsSL https://get.example.com | sh # buildkit"},
		{CreatedBy: "COPY app /app # buildkit"},
	})
	rep, err := Lint(context.Background(), img, Options{Reference: "registry.example.com/app:latest", MaxSizeMB: 0, MaxPackages: 10, Packages: 122})
	if err != nil {
		t.Fatal(err)
	}
	// The private key is random per run: mask what differs.
	for i := range rep.Findings {
		rep.Findings[i].Layer = strings.Repeat("x", 6)
	}
	rep.SizeBytes, rep.CompressedBytes = 0, 0
	got, _ := json.MarshalIndent(rep, "", "  ")
	got = append(got, '\n')
	golden := filepath.Join("testdata", "leaky.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("report differs (-want +got):\n%s", d)
	}
	if rep.Max() != Critical || len(rep.AtLeast(High)) == 0 {
		t.Errorf("max %s", rep.Max())
	}
}

func TestLintClean(t *testing.T) {
	l := testimage.Layer(t, testimage.Reg("app/server", "\x7fELF"), testimage.Reg("etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/sbin/nologin\n"))
	img := withConfig(t, testimage.Image(t, nil, l), v1.Config{User: "app", Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "/app/server", "-health"}}}, nil)
	rep, err := Lint(context.Background(), img, Options{Reference: "registry.example.com/app:1.0", MaxSizeMB: 100, MaxPackages: 50, Packages: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 {
		t.Errorf("clean image has findings: %s", dump(rep.Findings))
	}
}

func TestLintLimits(t *testing.T) {
	l := testimage.Layer(t, testimage.Zeros("data/blob", 3<<20))
	img := withConfig(t, testimage.Image(t, nil, l), v1.Config{User: "app", Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}}}, nil)
	rep, err := Lint(context.Background(), img, Options{MaxSizeMB: 2, MaxPackages: 5, Packages: 6})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{ImageTooLarge, TooManyPackage}, ids(rep.Findings)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestBadLayers: a decompression bomb stops at the limit, a truncated gzip is
// an error naming the layer; neither panics.
func TestBadLayers(t *testing.T) {
	bomb := testimage.Layer(t, testimage.Zeros("bomb", 64<<20))
	img := testimage.Image(t, nil, bomb)
	_, err := Lint(context.Background(), img, Options{Reference: "bomb", MaxLayerBytes: 1 << 20})
	if !errors.Is(err, ErrLayerTooLarge) || !strings.Contains(err.Error(), "layer 0") {
		t.Errorf("bomb: err = %v", err)
	}
	good := testimage.TarGz(t, testimage.Reg("a", strings.Repeat("a", 100000)))
	trunc := testimage.RawLayer(testimage.Truncate(good, len(good)/2))
	layers := []v1.Layer{testimage.Layer(t, testimage.Reg("ok", "ok")), trunc}
	_, _, err = FileFindings(context.Background(), layers, Options{})
	if err == nil || !strings.Contains(err.Error(), "layer 1") {
		t.Errorf("truncated: err = %v", err)
	}
	hostile := testimage.Layer(t, testimage.Reg("../../etc/evil", githubToken), testimage.Symlink("x", "/etc/shadow"),
		testimage.File{Path: "big", Content: []byte("short"), HeaderSize: 1 << 20})
	if _, _, err := FileFindings(context.Background(), []v1.Layer{hostile}, Options{}); err == nil {
		t.Error("a tar entry shorter than its header should be an error")
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	img := leakyImage(t)
	if _, err := Lint(ctx, img, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func FuzzFindSecrets(f *testing.F) {
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMIIE"))
	f.Add([]byte("AWS_ACCESS_KEY_ID=" + awsKeyID))
	f.Add([]byte("[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"))
	f.Add([]byte(githubToken))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range FindSecrets(b) {
			if m.Rule == "" || m.Redacted == "" {
				t.Fatalf("incomplete match %+v", m)
			}
		}
		_ = RedactLine(string(b))
		k, v, _ := strings.Cut(string(b), "=")
		EnvSecret(k, v)
		fileSecrets(".docker/config.json", b)
	})
}

// FuzzLayer feeds arbitrary tar streams (gzip-compressed) to the file pass.
func FuzzLayer(f *testing.F) {
	var buf bytes.Buffer
	_ = testimage.WriteTar(&buf, testimage.Reg("root/.ssh/id_rsa", "-----BEGIN RSA PRIVATE KEY-----\n"), testimage.Whiteout("root/.ssh"),
		testimage.File{Path: "usr/bin/su", Content: []byte("x"), Mode: 0o4755})
	f.Add(buf.Bytes())
	buf.Reset()
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "./var/cache/apk/APKINDEX.tar.gz", Size: 3, Mode: 0o644, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("abc"))
	_ = tw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l := testimage.RawLayer(testimage.Gzip(t, b))
		_, _, _ = FileFindings(context.Background(), []v1.Layer{l}, Options{MaxLayerBytes: 1 << 20})
	})
}

// TestDocsListEveryRule: docs/lint.md has a row for every rule, with its severity.
func TestDocsListEveryRule(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "docs", "lint.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules {
		row := "| " + r.ID + " | " + r.Title + " | " + r.Severity + " |"
		if !strings.Contains(string(b), row) {
			t.Errorf("docs/lint.md lacks the row %q", row)
		}
	}
}

// BenchmarkFileFindings: one layer of 20,000 small text files (a typical
// application tree); reports throughput over the uncompressed bytes.
func BenchmarkFileFindings(b *testing.B) {
	var files []testimage.File
	for i := 0; i < 20000; i++ {
		files = append(files, testimage.Reg(fmt.Sprintf("app/node_modules/pkg%d/lib/file%d.js", i/20, i), strings.Repeat("module.exports = function () { return 42 }\n", 40)))
	}
	l := testimage.Layer(b, files...)
	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, n, err := FileFindings(context.Background(), []v1.Layer{l}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	b.SetBytes(size)
}
