package feed

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

type member struct {
	name string
	typ  byte
	data string
}

// tarZst builds a zstd-compressed tar as `tar --zstd -cf` would.
func tarZst(t testing.TB, members []member) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, m := range members {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: m.name, Typeflag: typ, Mode: 0o644, ModTime: time.Date(2024, 7, 21, 0, 0, 0, 0, time.UTC)}
		if typ == tar.TypeReg {
			h.Size = int64(len(m.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw, _ := zstd.NewWriter(nil)
	return zw.EncodeAll(tb.Bytes(), nil)
}

func TestWalkTarZst(t *testing.T) {
	good := tarZst(t, []member{
		{name: "2024/", typ: tar.TypeDir},
		{name: "2024/cve-2024-9143.json", data: `{"document":{}}`},
		{name: "./2005/cve-2005-2541.json", data: `{"a":1}`},
		{name: "2005/link", typ: tar.TypeSymlink},
	})
	plain := func() []byte {
		zw, _ := zstd.NewWriter(nil)
		return zw.EncodeAll([]byte(`{"not":"a tar","pad":"`+strings.Repeat("x", 2048)+`"}`), nil)
	}()
	for _, tc := range []struct {
		name    string
		data    []byte
		limit   int64
		want    []string // names walked
		wantErr string   // substring of the error
	}{
		{name: "archive", data: good, limit: MaxArchiveSize, want: []string{"2024/cve-2024-9143.json=" + `{"document":{}}`, "2005/cve-2005-2541.json=" + `{"a":1}`}},
		{name: "truncated", data: good[:len(good)-20], limit: MaxArchiveSize, wantErr: "is truncated"},
		{name: "not a tar", data: plain, limit: MaxArchiveSize, wantErr: "is not a zstd-compressed tar"},
		{name: "empty tar", data: tarZst(t, nil), limit: MaxArchiveSize, wantErr: "holds no file"},
		{name: "over the bound", data: good, limit: 1024, wantErr: "decompresses to more than 1024 bytes"},
		{name: "not zstd", data: []byte("\x28\xb5\x2f\xfdgarbage"), limit: MaxArchiveSize, wantErr: "csaf_vex_2024-07-21.tar.zst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := walkTarZst(context.Background(), "csaf_vex_2024-07-21.tar.zst", bytes.NewReader(tc.data), tc.limit, func(e *Entry) error {
				b, err := e.ReadAll()
				if err != nil {
					return err
				}
				// Opened twice, as Read does (sniff, then read).
				if b2, _ := e.ReadAll(); !bytes.Equal(b, b2) {
					t.Errorf("%s reads differently the second time", e)
				}
				if e.String() != "csaf_vex_2024-07-21.tar.zst!"+e.Name {
					t.Errorf("entry named %q", e.String())
				}
				got = append(got, e.Name+"="+string(b))
				return nil
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "csaf_vex_2024-07-21.tar.zst") {
					t.Fatalf("err = %v, want one naming the archive and containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("walked\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// Walk finds a tar.zst by its magic, whatever its name.
func TestWalkFindsTarZst(t *testing.T) {
	p := filepath.Join(t.TempDir(), "archive")
	if err := os.WriteFile(p, tarZst(t, []member{{name: "2024/cve-2024-0001.json", data: "{}"}}), 0o644); err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := Walk(context.Background(), p, func(e *Entry) error { names = append(names, e.String()); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != p+"!2024/cve-2024-0001.json" {
		t.Errorf("walked %q", names)
	}
}

func FuzzWalkTarZst(f *testing.F) {
	f.Add(tarZst(f, []member{{name: "2024/cve-2024-9143.json", data: `{"document":{}}`}}))
	f.Add([]byte("\x28\xb5\x2f\xfd"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = walkTarZst(context.Background(), "fuzz.tar.zst", bytes.NewReader(data), 1<<20, func(e *Entry) error {
			_, err := e.ReadAll()
			return err
		})
	})
}
