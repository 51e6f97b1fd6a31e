package storage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is a blob store in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO...),
// through minio-go. Several registry processes may share one.
//
// Layout under the prefix:
//
//	blobs/<alg>/<first two hex>/<hex>   verified blobs, written once
//	_uploads/<id>/state                 a session's size, chunk list and sha256 state (JSON)
//	_uploads/<id>/c-<offset>-<random>   one object per received chunk (PATCH body)
//
// A chunk is written before the state that lists it, and the state is one
// object replaced whole, so any process can continue a session from it. On
// commit the sha256 state is checked against the client's digest first; only
// then is the blob made visible under its digest key, by a server-side copy of
// a single chunk, a server-side multipart compose of several (all but the
// last at least 5 MiB, S3's minimum part), or else a streamed re-upload.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string // "" or "some/prefix/"
	spec   string
}

var _ Store = (*S3)(nil)
var _ Redirector = (*S3)(nil)

// minPart is S3's smallest part of a multipart upload (all parts but the last).
const minPart = 5 << 20

// OpenS3 opens s3://BUCKET/PREFIX?endpoint=URL&region=R, with credentials from
// the standard AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN). The bucket is created when it does not exist.
func OpenS3(ctx context.Context, spec string) (*S3, error) {
	u, err := url.Parse(spec)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("storage %q: want s3://BUCKET/PREFIX?endpoint=URL&region=R", spec)
	}
	q := u.Query()
	for k := range q {
		if k != "endpoint" && k != "region" {
			return nil, fmt.Errorf("storage %q: unknown parameter %q (want endpoint, region)", spec, k)
		}
	}
	region := q.Get("region")
	if region == "" {
		region = "us-east-1"
	}
	ep := q.Get("endpoint")
	if ep == "" {
		ep = "https://s3." + region + ".amazonaws.com"
	}
	eu, err := url.Parse(ep)
	if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
		return nil, fmt.Errorf("storage %q: endpoint %q is not an http(s) URL", spec, ep)
	}
	creds := credentials.NewEnvAWS()
	if v, err := creds.Get(); err != nil || v.AccessKeyID == "" {
		return nil, fmt.Errorf("storage %q: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", spec)
	}
	c, err := minio.New(eu.Host, &minio.Options{
		Creds: creds, Secure: eu.Scheme == "https", Region: region, BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("storage %q: %w", spec, err)
	}
	s := &S3{c: c, bucket: u.Host, spec: "s3://" + u.Host + u.Path}
	if p := strings.Trim(u.Path, "/"); p != "" {
		s.prefix = p + "/"
	}
	ok, err := c.BucketExists(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("storage %q: checking bucket %q at %s: %w", spec, s.bucket, ep, err)
	}
	if !ok {
		if err := c.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region}); err != nil {
			if ok, err2 := c.BucketExists(ctx, s.bucket); err2 != nil || !ok { // another replica may have made it
				return nil, fmt.Errorf("storage %q: creating bucket %q: %w", spec, s.bucket, err)
			}
		}
	}
	return s, nil
}

// Describe names the store.
func (s *S3) Describe() string { return s.spec }

func (s *S3) key(d Digest) string {
	return s.prefix + "blobs/" + d.Algorithm + "/" + d.Hex[:2] + "/" + d.Hex
}

func (s *S3) uploadDir(id string) string { return s.prefix + "_uploads/" + id + "/" }

func notFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound" || minio.ToErrorResponse(err).StatusCode == http.StatusNotFound
}

// Stat returns a blob's size.
func (s *S3) Stat(ctx context.Context, d Digest) (int64, error) {
	oi, err := s.c.StatObject(ctx, s.bucket, s.key(d), minio.StatObjectOptions{})
	if err != nil {
		if notFound(err) {
			return 0, fmt.Errorf("%w: %s", ErrNotFound, d)
		}
		return 0, fmt.Errorf("stat blob %s in %s: %w", d, s.spec, err)
	}
	return oi.Size, nil
}

// Open opens a blob. Reads are lazy: a Seek then Read issues one ranged GET.
func (s *S3) Open(ctx context.Context, d Digest) (io.ReadSeekCloser, error) {
	o, err := s.c.GetObject(ctx, s.bucket, s.key(d), minio.GetObjectOptions{})
	if err == nil {
		_, err = o.Stat()
	}
	if err != nil {
		if o != nil {
			o.Close()
		}
		if notFound(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, d)
		}
		return nil, fmt.Errorf("opening blob %s in %s: %w", d, s.spec, err)
	}
	return o, nil
}

// ReadAll reads a whole small blob.
func (s *S3) ReadAll(ctx context.Context, d Digest, limit int64) ([]byte, error) {
	f, err := s.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s in %s: %w", d, s.spec, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("blob %s is larger than %d bytes", d, limit)
	}
	return b, nil
}

// PutBytes stores b after checking it hashes to want.
func (s *S3) PutBytes(ctx context.Context, want Digest, b []byte) error {
	if got := FromBytes(want.Algorithm, b); got != want {
		return fmt.Errorf("%w: computed %s, expected %s", ErrDigestMismatch, got, want)
	}
	if _, err := s.Stat(ctx, want); err == nil {
		return nil
	}
	_, err := s.c.PutObject(ctx, s.bucket, s.key(want), bytes.NewReader(b), int64(len(b)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true})
	if err != nil {
		return fmt.Errorf("storing blob %s in %s: %w", want, s.spec, err)
	}
	return nil
}

// Delete removes a blob.
func (s *S3) Delete(ctx context.Context, d Digest) error {
	if _, err := s.Stat(ctx, d); err != nil {
		return err
	}
	if err := s.c.RemoveObject(ctx, s.bucket, s.key(d), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("deleting blob %s in %s: %w", d, s.spec, err)
	}
	return nil
}

// Walk lists every blob.
func (s *S3) Walk(ctx context.Context, fn func(b BlobInfo) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine when fn fails
	base := s.prefix + "blobs/"
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: base, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("listing %s: %w", s.spec, oi.Err)
		}
		parts := strings.Split(strings.TrimPrefix(oi.Key, base), "/")
		if len(parts) != 3 {
			continue
		}
		d, err := ParseDigest(parts[0] + ":" + parts[2])
		if err != nil {
			continue // not ours
		}
		if err := fn(BlobInfo{Digest: d, Size: oi.Size, Modified: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// BlobURL presigns a GET of the blob, valid for expiry.
func (s *S3) BlobURL(ctx context.Context, d Digest, expiry time.Duration) (string, error) {
	u, err := s.c.PresignedGetObject(ctx, s.bucket, s.key(d), expiry, nil)
	if err != nil {
		return "", fmt.Errorf("presigning blob %s in %s: %w", d, s.spec, err)
	}
	return u.String(), nil
}

// s3Chunk is one received chunk of an upload session.
type s3Chunk struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

// s3State is an upload session as stored in _uploads/<id>/state.
type s3State struct {
	Size    int64     `json:"size"`
	Chunks  []s3Chunk `json:"chunks"`
	SHA256  []byte    `json:"sha256"` // the marshalled hash state after Size bytes
	Started time.Time `json:"started"`
}

type s3Upload struct {
	s  *S3
	id string
	st s3State
}

func (u *s3Upload) ID() string  { return u.id }
func (u *s3Upload) Size() int64 { return u.st.Size }

func (s *S3) writeState(ctx context.Context, id string, st *s3State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = s.c.PutObject(ctx, s.bucket, s.uploadDir(id)+"state", bytes.NewReader(b), int64(len(b)),
		minio.PutObjectOptions{ContentType: "application/json", DisableContentSha256: true})
	if err != nil {
		return fmt.Errorf("saving upload %s in %s: %w", id, s.spec, err)
	}
	return nil
}

// StartUpload creates an empty session.
func (s *S3) StartUpload(ctx context.Context, id string) (Upload, error) {
	if !reUploadID().MatchString(id) {
		return nil, fmt.Errorf("%w: bad id %q", ErrUploadUnknown, id)
	}
	h := sha256.New()
	hs, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
	u := &s3Upload{s: s, id: id, st: s3State{SHA256: hs, Chunks: []s3Chunk{}, Started: time.Now().UTC()}}
	if err := s.writeState(ctx, id, &u.st); err != nil {
		return nil, err
	}
	return u, nil
}

// GetUpload loads a session's state (written by this or any other process).
func (s *S3) GetUpload(ctx context.Context, id string) (Upload, error) {
	if !reUploadID().MatchString(id) {
		return nil, fmt.Errorf("%w: %q", ErrUploadUnknown, id)
	}
	o, err := s.c.GetObject(ctx, s.bucket, s.uploadDir(id)+"state", minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("opening upload %s in %s: %w", id, s.spec, err)
	}
	defer o.Close()
	b, err := io.ReadAll(io.LimitReader(o, 16<<20))
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("%w: %q", ErrUploadUnknown, id)
		}
		return nil, fmt.Errorf("opening upload %s in %s: %w", id, s.spec, err)
	}
	u := &s3Upload{s: s, id: id}
	if err := json.Unmarshal(b, &u.st); err != nil {
		return nil, fmt.Errorf("upload %s in %s: corrupt state: %w", id, s.spec, err)
	}
	return u, nil
}

func randHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Append stores r as a new chunk object, then the new state. Until the state
// is written the chunk is invisible, so a failed request changes nothing.
func (u *s3Upload) Append(ctx context.Context, r io.Reader, start, n int64) (int64, error) {
	if start >= 0 && start != u.st.Size {
		return u.st.Size, fmt.Errorf("%w: upload has %d bytes, chunk starts at %d", ErrRange, u.st.Size, start)
	}
	if n == 0 {
		return u.st.Size, nil // an empty chunk changes nothing
	}
	if n < 0 { // unknown length: an empty body changes nothing either
		br := bufio.NewReader(r)
		if _, err := br.Peek(1); err == io.EOF {
			return u.st.Size, nil
		} else if err != nil {
			return u.st.Size, fmt.Errorf("writing upload %s: %w", u.id, err)
		}
		r = br
	}
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(u.st.SHA256); err != nil {
		return u.st.Size, fmt.Errorf("upload %s: hash state: %w", u.id, err)
	}
	key := u.s.uploadDir(u.id) + "c-" + strconv.FormatInt(u.st.Size, 10) + "-" + randHex()
	cr := &countingReader{r: io.TeeReader(r, h)}
	_, err := u.s.c.PutObject(ctx, u.s.bucket, key, cr, n,
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true})
	if err == nil && n >= 0 && cr.n != n {
		err = fmt.Errorf("got %d bytes, expected %d", cr.n, n)
	}
	if err != nil {
		_ = u.s.c.RemoveObject(context.WithoutCancel(ctx), u.s.bucket, key, minio.RemoveObjectOptions{})
		return u.st.Size, fmt.Errorf("writing upload %s to %s: %w", u.id, u.s.spec, err)
	}
	st := u.st
	st.Chunks = append(append([]s3Chunk(nil), u.st.Chunks...), s3Chunk{Key: key, Size: cr.n})
	st.Size += cr.n
	st.SHA256, _ = h.(encoding.BinaryMarshaler).MarshalBinary()
	if err := u.s.writeState(ctx, u.id, &st); err != nil {
		_ = u.s.c.RemoveObject(context.WithoutCancel(ctx), u.s.bucket, key, minio.RemoveObjectOptions{})
		return u.st.Size, err
	}
	u.st = st
	return st.Size, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// chunks reads the session's chunks in order, as one stream.
func (u *s3Upload) chunks(ctx context.Context) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		for _, c := range u.st.Chunks {
			o, err := u.s.c.GetObject(ctx, u.s.bucket, c.Key, minio.GetObjectOptions{})
			if err == nil {
				var n int64
				n, err = io.Copy(pw, o)
				o.Close()
				if err == nil && n != c.Size {
					err = fmt.Errorf("chunk %s has %d bytes, expected %d", c.Key, n, c.Size)
				}
			}
			if err != nil {
				pw.CloseWithError(fmt.Errorf("reading upload %s: %w", u.id, err))
				return
			}
		}
		pw.Close()
	}()
	return pr
}

// Commit verifies the session against want, then makes it visible under want.
func (s *S3) Commit(ctx context.Context, up Upload, want Digest) error {
	u, ok := up.(*s3Upload)
	if !ok {
		return fmt.Errorf("%w: not an S3 upload", ErrUploadUnknown)
	}
	var got string
	if want.Algorithm == "sha256" {
		h := sha256.New()
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(u.st.SHA256); err != nil {
			return fmt.Errorf("upload %s: hash state: %w", u.id, err)
		}
		got = hex.EncodeToString(h.Sum(nil))
	} else {
		var h hash.Hash
		h, err := NewHash(want.Algorithm)
		if err != nil {
			return err
		}
		rc := u.chunks(ctx)
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return err
		}
		got = hex.EncodeToString(h.Sum(nil))
	}
	if got != want.Hex {
		return fmt.Errorf("%w: upload %s computed %s:%s, client claimed %s", ErrDigestMismatch, u.id, want.Algorithm, got, want)
	}
	if _, err := s.Stat(ctx, want); err != nil {
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := s.materialize(ctx, u, want); err != nil {
			return fmt.Errorf("committing blob %s to %s: %w", want, s.spec, err)
		}
	}
	_ = s.Cancel(context.WithoutCancel(ctx), u.id)
	return nil
}

// materialize writes a verified session's bytes under the digest key.
func (s *S3) materialize(ctx context.Context, u *s3Upload, want Digest) error {
	dst := minio.CopyDestOptions{Bucket: s.bucket, Object: s.key(want)}
	cs := u.st.Chunks
	composable := len(cs) > 1 && len(cs) <= 10000
	for i, c := range cs {
		if i < len(cs)-1 && c.Size < minPart {
			composable = false
		}
	}
	switch {
	case len(cs) == 1 && cs[0].Size <= 5<<30:
		_, err := s.c.CopyObject(ctx, dst, minio.CopySrcOptions{Bucket: s.bucket, Object: cs[0].Key})
		return err
	case composable:
		srcs := make([]minio.CopySrcOptions, len(cs))
		for i, c := range cs {
			srcs[i] = minio.CopySrcOptions{Bucket: s.bucket, Object: c.Key}
		}
		if _, err := s.c.ComposeObject(ctx, dst, srcs...); err == nil {
			return nil
		}
		// Some S3-compatible servers lack UploadPartCopy: stream instead.
	}
	var rc io.ReadCloser = io.NopCloser(bytes.NewReader(nil))
	if len(cs) > 0 {
		rc = u.chunks(ctx)
	}
	defer rc.Close()
	_, err := s.c.PutObject(ctx, s.bucket, s.key(want), rc, u.st.Size,
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true})
	return err
}

// Cancel removes a session's state and chunks.
func (s *S3) Cancel(ctx context.Context, id string) error {
	if !reUploadID().MatchString(id) {
		return fmt.Errorf("%w: %q", ErrUploadUnknown, id)
	}
	dir := s.uploadDir(id)
	found := false
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: dir, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("listing upload %s in %s: %w", id, s.spec, oi.Err)
		}
		found = true
		if err := s.c.RemoveObject(ctx, s.bucket, oi.Key, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
			return fmt.Errorf("removing %s from %s: %w", path.Base(oi.Key), s.spec, err)
		}
	}
	if !found {
		return fmt.Errorf("%w: %q", ErrUploadUnknown, id)
	}
	return nil
}

// Forget is a no-op: S3 sessions hold no process-local state.
func (s *S3) Forget(string) {}
