package dbdist

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardensec/warden/pkg/verify"
)

// benchDB is the database the benchmarks push: $WARDEN_BENCH_DB (e.g. the
// whole corpus database bench/dbdist.sh imports) or a generated one.
func benchDB(b *testing.B) string {
	if p := os.Getenv("WARDEN_BENCH_DB"); p != "" {
		return p
	}
	ids := make([]string, 5000)
	for i := range ids {
		ids[i] = fmt.Sprintf("CVE-2024-%05d", i)
	}
	p := filepath.Join(b.TempDir(), "db")
	buildDB(b, p, ids...)
	return p
}

// BenchmarkPull: a pull into an empty directory (verify, download, install)
// and an unchanged pull, from warden's registry on loopback.
func BenchmarkPull(b *testing.B) {
	ctx := context.Background()
	key, pub := keyPair(b)
	src := benchDB(b)
	host := serve(b, registries(b)["warden"])
	ref := mustRef(b, host+"/warden/db:2")
	pres, err := Push(ctx, src, ref, PushOptions{Key: key})
	if err != nil {
		b.Fatal(err)
	}
	opt := PullOptions{Keys: []verify.Key{pub}}
	b.Run("cold", func(b *testing.B) {
		b.SetBytes(pres.Size)
		for i := 0; b.Loop(); i++ {
			if _, err := Pull(ctx, filepath.Join(b.TempDir(), "db"), ref, opt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		dst := filepath.Join(b.TempDir(), "db")
		if _, err := Pull(ctx, dst, ref, opt); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			res, err := Pull(ctx, dst, ref, opt)
			if err != nil || !res.Unchanged {
				b.Fatal(res, err)
			}
		}
	})
}
