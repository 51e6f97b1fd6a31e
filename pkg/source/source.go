// Package source opens a container image, wherever it lives, as a
// go-containerregistry v1.Image.
//
// A reference is "SCHEME:WHERE" or a bare reference:
//
//	docker-archive:PATH[:NAME]  a `docker save` / `crane pull` tarball
//	oci-layout:DIR[:NAME]       an OCI image layout directory
//	oci-archive:PATH[:NAME]     a tar of an OCI image layout (read in place)
//	registry:REF                a registry (plain HTTP for localhost and 127.0.0.1)
//	docker:REF                  the local Docker Engine
//	dir:PATH                    an unpacked root filesystem, as a one-layer image
//	REF                         an existing path (sniffed), else the Docker
//	                            Engine if it has REF, else the registry
//
// NAME selects an image by its org.opencontainers.image.ref.name annotation
// (OCI) or its repo tag (docker-archive). A multi-platform index is resolved
// with Options.Platform (default linux/amd64).
package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Kinds of source, as found in Image.Kind and as scheme prefixes.
const (
	KindDockerArchive = "docker-archive"
	KindOCILayout     = "oci-layout"
	KindOCIArchive    = "oci-archive"
	KindRegistry      = "registry"
	KindDocker        = "docker"
	KindDir           = "dir"
)

// Kinds lists every scheme Open understands.
var Kinds = []string{KindDockerArchive, KindOCILayout, KindOCIArchive, KindRegistry, KindDocker, KindDir}

// Errors Open wraps, for callers that choose an exit code or a message.
var (
	ErrNotImage      = errors.New("not an image")
	ErrNotFound      = errors.New("not found")
	ErrUnknownScheme = errors.New("unknown scheme")
	ErrNoPlatform    = errors.New("no matching platform")
	ErrAmbiguous     = errors.New("several images")
	ErrUnauthorized  = errors.New("access denied")
)

// Options tune Open. The zero value is ready to use.
type Options struct {
	// Platform selects from a multi-platform index: "os/arch[/variant]";
	// "" means linux/amd64. A single-platform image is checked against it only
	// when it is set explicitly.
	Platform string
	// Insecure allows plain HTTP and unverified TLS to any registry (localhost
	// and 127.0.0.1 are always allowed plain HTTP).
	Insecure bool
	// Keychain provides registry credentials; nil means the Docker config in
	// DockerConfig (see DockerConfigKeychain).
	Keychain authn.Keychain
	// DockerConfig is the directory of the Docker config.json to take
	// credentials from when Keychain is nil; "" means $DOCKER_CONFIG, else
	// ~/.docker, read when a registry is contacted.
	DockerConfig string
	// DockerHost is the Docker Engine address; "" means $DOCKER_HOST or
	// unix:///var/run/docker.sock.
	DockerHost string
	// TempDir holds the temporary copies some sources need (a Docker Engine
	// export, a decompressed .tar.gz archive); "" means os.TempDir(). They are
	// removed by Image.Close.
	TempDir string
	// MaxDecompressed bounds the size of a gzip-compressed image archive
	// (`docker save | gzip`) once decompressed; 0 means 64 GiB.
	MaxDecompressed int64
	// Logger receives debug messages; nil is silent.
	Logger *slog.Logger
	// Digests remembers the sha256 of the compressed layers inside a
	// docker-archive file, so that scanning the same unchanged file again
	// does not hash them again; nil means hash them every time.
	Digests DigestMemo
}

// DigestMemo stores layer digests under a key naming a byte range of a file
// as it was when the digest was computed: device, inode, size, modification
// and inode-change times (the kernel sets the change time on any write, and
// no user can set it back), then the range. A file changed in any way gets
// new keys, so a remembered digest is only ever used for the bytes it was
// computed from. Implementations must be safe for concurrent use; a failing
// store is not an error (the digest is computed again).
type DigestMemo interface {
	LookupDigest(key string) (v1.Hash, bool)
	StoreDigest(key string, d v1.Hash)
}

// Image is an opened image. Close it when done: some sources hold files.
type Image struct {
	v1.Image
	// Name is what the user typed.
	Name string
	// Kind is the source kind (KindDockerArchive, ...).
	Kind string
	// RepoTags are the image's names where the source records them
	// (docker-archive, docker, registry, OCI ref names).
	RepoTags []string
	// Ref is the registry or Docker Engine reference (nil for files).
	Ref name.Reference
	// Index is the multi-platform index the image was selected from, or nil.
	Index v1.ImageIndex

	closers []func() error
}

// Close releases what the source holds (open files, temporary copies).
func (i *Image) Close() error {
	var errs []error
	for j := len(i.closers) - 1; j >= 0; j-- {
		errs = append(errs, i.closers[j]())
	}
	i.closers = nil
	return errors.Join(errs...)
}

func (i *Image) onClose(f func() error) { i.closers = append(i.closers, f) }

// Open opens ref (see the package comment) as an image.
func Open(ctx context.Context, ref string, opt Options) (*Image, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	img, err := open(ctx, ref, opt)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	img.Name = ref
	return img, nil
}

func open(ctx context.Context, ref string, opt Options) (*Image, error) {
	plat, err := parsePlatform(opt.Platform)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(ref) == "" {
		return nil, fmt.Errorf("%w: empty reference", ErrNotFound)
	}
	scheme, rest, ok := strings.Cut(ref, ":")
	if ok {
		switch scheme {
		case KindDockerArchive, KindOCILayout, KindOCIArchive, KindDir:
			p, tag, err := splitPathTag(rest, scheme == KindDir)
			if err != nil {
				return nil, err
			}
			return openPath(ctx, scheme, p, tag, plat, opt)
		case KindRegistry:
			return openRegistry(ctx, rest, plat, opt)
		case KindDocker:
			return openDaemon(ctx, rest, plat, opt)
		}
		if isForeignScheme(scheme, rest) {
			hint := ""
			if k := foreignSchemes[scheme]; k != "" {
				hint = "; did you mean " + k + ":?"
			}
			return nil, fmt.Errorf("%w %q (known: %s)%s", ErrUnknownScheme, scheme, strings.Join(Kinds, ", "), hint)
		}
	}
	return openBare(ctx, ref, plat, opt)
}

// Transports of other tools (skopeo, URLs) that would otherwise be read as
// "repository:tag", with the scheme of ours that does the same job, if any.
var foreignSchemes = map[string]string{
	"docker-daemon": KindDocker, "oci": KindOCILayout, "containers-storage": "", "ostree": "", "sif": "",
	"file": "", "http": KindRegistry, "https": KindRegistry,
}

func isForeignScheme(scheme, rest string) bool {
	if _, ok := foreignSchemes[scheme]; ok || strings.HasPrefix(rest, "//") {
		return true
	}
	// Not a valid "name:tag" or "host:port/name" either: call it a scheme.
	_, err := name.ParseReference(scheme + ":" + rest)
	return err != nil && isWord(scheme)
}

func isWord(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return s != ""
}

// splitPathTag splits "PATH[:NAME]": the longest prefix that exists is the path.
func splitPathTag(s string, noTag bool) (string, string, error) {
	if s == "" {
		return "", "", fmt.Errorf("%w: no path given", ErrNotFound)
	}
	if _, err := os.Stat(s); err == nil || noTag {
		return s, "", nil
	}
	for i := len(s) - 1; i > 0; i-- {
		if s[i] != ':' {
			continue
		}
		if _, err := os.Stat(s[:i]); err == nil {
			return s[:i], s[i+1:], nil
		}
	}
	_, err := os.Stat(s)
	return "", "", fmt.Errorf("%w: %w", ErrNotFound, err)
}

// openBare detects what a scheme-less reference is.
func openBare(ctx context.Context, ref string, plat platformReq, opt Options) (*Image, error) {
	if p, tag, err := splitPathTag(ref, false); err == nil {
		return openPath(ctx, "", p, tag, plat, opt)
	}
	if _, err := name.ParseReference(ref); err != nil {
		_, serr := os.Stat(ref)
		return nil, fmt.Errorf("%w: %w, and not an image reference either", ErrNotFound, serr)
	}
	img, err := openDaemon(ctx, ref, plat, opt)
	if err == nil {
		return img, nil
	}
	// Only "no engine" and "the engine has no such image" mean: try the
	// registry. An engine that has the image but fails to export it is an error.
	if !errors.Is(err, ErrNotFound) && !errors.Is(err, errNoEngine) {
		return nil, err
	}
	opt.Logger.Debug("not in the Docker Engine, trying the registry", "ref", ref, "err", err)
	r, perr := ParseReference(ref, opt)
	if perr != nil {
		return nil, fmt.Errorf("%w: registry: %w", ErrNotFound, perr)
	}
	img, rerr := fetchRegistry(ctx, r, plat, opt)
	if rerr == nil {
		return img, nil
	}
	// Say what was tried, in order, as Trivy does.
	return nil, fmt.Errorf("%s, then registry %s: %s: %w", engineTried(err), r.Context().RegistryStr(), r.Context().RepositoryStr()+refSuffix(r), rerr)
}

// engineTried says why the Docker Engine did not give a bare reference:
// "not in the Docker Engine (HOST: No such image: …)" or "no Docker
// Engine (cannot reach … at HOST: …)".
func engineTried(err error) string {
	var ee *engineError
	if !errors.As(err, &ee) {
		return fmt.Sprintf("not from the Docker Engine (%v)", err)
	}
	if errors.Is(err, errNoEngine) {
		return fmt.Sprintf("no Docker Engine (%v)", ee.err)
	}
	return fmt.Sprintf("not in the Docker Engine (%s: %s)", ee.host, ee.msg)
}

// refSuffix is ":tag" or "@digest".
func refSuffix(r name.Reference) string {
	if d, ok := r.(name.Digest); ok {
		return "@" + d.DigestStr()
	}
	return ":" + r.Identifier()
}

func (t *tarFS) kind() (string, error) {
	switch {
	case t.has("manifest.json"):
		return KindDockerArchive, nil
	case t.has("oci-layout") && t.has("index.json"):
		return KindOCIArchive, nil
	}
	return "", fmt.Errorf("%w: the tar holds neither manifest.json (docker-archive) nor oci-layout and index.json (oci-archive)%s",
		ErrNotImage, t.truncatedHint())
}

// truncatedHint explains a missing file by a missing end-of-archive marker.
func (t *tarFS) truncatedHint() string {
	if t.unterminated {
		return " (the tar has no end-of-archive marker: truncated?)"
	}
	return ""
}
