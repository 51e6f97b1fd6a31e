// Command releaseimage is scripts/release.sh's helper for Warden's own image.
//
//	releaseimage build --binary B --ca-certs C --version V --revision R --epoch S --docker-archive F [--push REF]
//	releaseimage layout --repo HOST:PORT/warden --tag V --out DIR
//
// build makes the image (internal/release), writes it as a `docker load`
// archive tagged warden:V and pushes it to REF; layout copies the pushed image
// with its signatures and attestations from the registry into an OCI layout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/wardensec/warden/internal/release"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "releaseimage:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: releaseimage build|layout [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	switch args[0] {
	case "build":
		var opt release.ImageOptions
		var epoch, archive, push string
		fs.StringVar(&opt.Binary, "binary", "", "static linux binary")
		fs.StringVar(&opt.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle (PEM)")
		fs.StringVar(&opt.Arch, "arch", "amd64", "GOARCH of the binary")
		fs.StringVar(&opt.Version, "version", "", "version (the image tag)")
		fs.StringVar(&opt.Revision, "revision", "", "commit")
		fs.StringVar(&opt.Source, "source", "", "source repository URL")
		fs.StringVar(&epoch, "epoch", "", "commit time, seconds since 1970 (SOURCE_DATE_EPOCH)")
		fs.StringVar(&archive, "docker-archive", "", "write a docker load archive here")
		fs.StringVar(&push, "push", "", "push the image to this reference")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if opt.Binary == "" || opt.Version == "" || epoch == "" {
			return fmt.Errorf("build: --binary, --version and --epoch are required")
		}
		sec, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("build: --epoch %q: %w", epoch, err)
		}
		opt.Created = time.Unix(sec, 0).UTC()
		img, err := release.Image(opt)
		if err != nil {
			return err
		}
		if archive != "" {
			if err := release.WriteDockerArchive(archive, img, "warden:"+opt.Version); err != nil {
				return err
			}
		}
		if push != "" {
			ref, err := name.ParseReference(push)
			if err != nil {
				return fmt.Errorf("build: --push %q: %w", push, err)
			}
			if err := release.Push(ctx, ref, img); err != nil {
				return err
			}
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		fmt.Println(d)
		return nil
	case "layout":
		var repo, tag, out string
		fs.StringVar(&repo, "repo", "", "repository holding the image and its signatures")
		fs.StringVar(&tag, "tag", "", "the image's tag")
		fs.StringVar(&out, "out", "", "layout directory to write (replaced)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if repo == "" || tag == "" || out == "" {
			return fmt.Errorf("layout: --repo, --tag and --out are required")
		}
		r, err := name.NewRepository(repo)
		if err != nil {
			return fmt.Errorf("layout: --repo %q: %w", repo, err)
		}
		return release.ExportLayout(ctx, r, tag, out)
	}
	return fmt.Errorf("unknown command %q (build or layout)", args[0])
}
