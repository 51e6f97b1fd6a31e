package registry_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/registry/gc"
	"github.com/wardensec/warden/pkg/registry/storage"
)

// pushBlob uploads b monolithically to repo and returns its digest.
func pushBlob(base, repo string, b []byte) (string, error) {
	d := storage.FromBytes("sha256", b).String()
	resp, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/?digest="+d, "application/octet-stream", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		msg, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("blob upload: %d %s", resp.StatusCode, msg)
	}
	return d, nil
}

// mountOrPush mounts b from another repository, or uploads it when the
// registry answers 202 (it cannot mount: the blob is gone there).
func mountOrPush(base, repo, from string, b []byte) error {
	d := storage.FromBytes("sha256", b).String()
	resp, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/?mount="+d+"&from="+from, "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case 201:
		return nil
	case 202:
		req, _ := http.NewRequest("PUT", base+resp.Header.Get("Location")+"?digest="+d, bytes.NewReader(b))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return fmt.Errorf("upload after a refused mount: %d", resp.StatusCode)
		}
		return nil
	}
	return fmt.Errorf("mount: %d", resp.StatusCode)
}

// pushImage pushes a manifest of config + layers (already uploaded) under tag.
func pushImage(base, repo, tag string, config []byte, layers ...[]byte) (string, error) {
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, "application/vnd.oci.image.manifest.v1+json",
		desc{"application/vnd.oci.image.config.v1+json", storage.FromBytes("sha256", config).String(), len(config)}, nil}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar+gzip", storage.FromBytes("sha256", l).String(), len(l)})
	}
	body, _ := json.Marshal(m)
	req, _ := http.NewRequest("PUT", base+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(body))
	req.Header.Set("Content-Type", m.MediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		msg, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("manifest %s: %d %s", tag, resp.StatusCode, msg)
	}
	return storage.FromBytes("sha256", body).String(), nil
}

// raceGC pushes images (sharing a base layer that is garbage between pushes)
// from several clients while online GC runs in a loop, then checks every
// pushed image reads back whole and that GC did delete the orphans.
func raceGC(t *testing.T, regs []*testReg, d time.Duration) {
	ctx := context.Background()
	base := make([]byte, 64<<10)
	rand.Read(base)
	if _, err := pushBlob(regs[0].srv.URL, "race/base", base); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the base blob is now older than the grace: a GC candidate until referenced
	const grace = time.Second
	stop := make(chan struct{})
	var gcRuns, deleted atomic.Int64
	var wg sync.WaitGroup
	gcErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			st, err := gc.Online(ctx, regs[0].Store(), regs[0].Meta(), gc.OnlineOptions{Grace: grace})
			if err != nil {
				gcErr <- err
				return
			}
			gcRuns.Add(1)
			deleted.Add(int64(st.Deleted))
		}
	}()
	type pushed struct{ tag, digest string }
	var mu sync.Mutex
	var images []pushed
	errs := make(chan error, 16)
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			end := time.Now().Add(d)
			for i := 0; time.Now().Before(end); i++ {
				u := regs[(c+i)%len(regs)].srv.URL
				layer := make([]byte, 4<<10)
				rand.Read(layer)
				config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","n":"%d-%d-%x"}`, c, i, layer[:4]))
				orphan := make([]byte, 1<<10)
				rand.Read(orphan)
				if i%2 == 0 { // the base layer by cross-repository mount, as Docker does
					if err := mountOrPush(u, "race/app", "race/base", base); err != nil {
						errs <- err
						return
					}
				} else if _, err := pushBlob(u, "race/app", base); err != nil {
					errs <- err
					return
				}
				for _, b := range [][]byte{layer, config, orphan} {
					if _, err := pushBlob(u, "race/app", b); err != nil {
						errs <- err
						return
					}
				}
				tag := fmt.Sprintf("c%d-%d", c, i)
				dg, err := pushImage(u, "race/app", tag, config, base, layer)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				images = append(images, pushed{tag, dg})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(d)
	time.Sleep(grace + 100*time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("push during GC: %v", err)
	}
	select {
	case err := <-gcErr:
		t.Fatalf("online GC: %v", err)
	default:
	}
	// One more GC once the orphans are past the grace period.
	time.Sleep(grace)
	st, err := gc.Online(ctx, regs[0].Store(), regs[0].Meta(), gc.OnlineOptions{Grace: grace})
	if err != nil {
		t.Fatal(err)
	}
	deleted.Add(int64(st.Deleted))
	t.Logf("%d images pushed during %d GC runs; %d orphan blobs deleted", len(images), gcRuns.Load(), deleted.Load())
	if len(images) == 0 || gcRuns.Load() < 2 {
		t.Fatalf("the race did not happen: %d images, %d GC runs", len(images), gcRuns.Load())
	}
	if deleted.Load() < int64(len(images))/2 {
		t.Errorf("GC deleted %d blobs; %d orphans were left to it", deleted.Load(), len(images))
	}
	// Every image pushed reads back, each blob with its digest.
	for _, im := range images {
		for _, r := range regs {
			resp := do(t, "GET", r.srv.URL+"/v2/race/app/manifests/"+im.tag, nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
			body := readAll(t, resp)
			if resp.StatusCode != 200 || storage.FromBytes("sha256", body).String() != im.digest {
				t.Fatalf("manifest %s: %d", im.tag, resp.StatusCode)
			}
			var m struct {
				Config struct{ Digest string }
				Layers []struct{ Digest string }
			}
			json.Unmarshal(body, &m)
			for _, dg := range append([]string{m.Config.Digest}, m.Layers[0].Digest, m.Layers[1].Digest) {
				resp := do(t, "GET", r.srv.URL+"/v2/race/app/blobs/"+dg, nil)
				if b := readAll(t, resp); resp.StatusCode != 200 || storage.FromBytes("sha256", b).String() != dg {
					t.Fatalf("image %s: blob %s: %d (deleted by GC while referenced?)", im.tag, dg, resp.StatusCode)
				}
			}
		}
	}
}

// TestOnlineGCRace: online GC in a loop while clients push images whose
// shared base layer is garbage between pushes: no referenced blob is ever
// deleted, and the orphans are. On the filesystem with SQLite, and on S3 +
// PostgreSQL across three replicas.
func TestOnlineGCRace(t *testing.T) {
	t.Run("fs-sqlite", func(t *testing.T) {
		raceGC(t, []*testReg{newTestReg(t, registry.Options{})}, 4*time.Second)
	})
	t.Run("s3-postgres-3-replicas", func(t *testing.T) {
		sh := newShared(t)
		raceGC(t, []*testReg{sh.replica(t, registry.Options{}), sh.replica(t, registry.Options{}), sh.replica(t, registry.Options{})}, 6*time.Second)
	})
}
