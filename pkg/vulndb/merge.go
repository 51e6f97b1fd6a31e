package vulndb

import (
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Export writes a consistent snapshot of the database to w: a database
// file that `warden db import` (Writer.Merge) loads.
func (db *DB) Export(w io.Writer) (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("exporting %s: %w", db.path, err)
	}
	return n, nil
}

// Merge adds every source of the database file at path (a bundle from
// Export) to the database being built: each (source, namespace) it holds
// replaces the same one here; its import records and HTTP validators come along.
func (w *Writer) Merge(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("merging bundle: %w", err)
	}
	src, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: OpenTimeout})
	if err != nil {
		return fmt.Errorf("opening bundle %s (not a warden database export?): %w", path, err)
	}
	defer src.Close()
	return src.View(func(stx *bolt.Tx) error {
		if _, err := checkSchema(stx); err != nil {
			return fmt.Errorf("bundle %s: %w", path, err)
		}
		return w.db.Update(func(tx *bolt.Tx) error {
			if sroot := stx.Bucket(bNS); sroot != nil {
				root, err := tx.CreateBucketIfNotExists(bNS)
				if err != nil {
					return err
				}
				err = sroot.ForEachBucket(func(ns []byte) error {
					snsb := sroot.Bucket(ns)
					nsb, err := root.CreateBucketIfNotExists(ns)
					if err != nil {
						return err
					}
					return snsb.ForEachBucket(func(source []byte) error {
						w.touched[string(source)+"\x00"+string(ns)] = true
						if nsb.Bucket(source) != nil {
							if err := nsb.DeleteBucket(source); err != nil {
								return err
							}
						}
						return copyBucket(snsb.Bucket(source), nsb, source)
					})
				})
				if err != nil {
					return err
				}
			}
			if sroot := stx.Bucket(bScores); sroot != nil {
				root, err := tx.CreateBucketIfNotExists(bScores)
				if err != nil {
					return err
				}
				if err := sroot.ForEachBucket(func(source []byte) error {
					w.touched[string(source)+"\x00scores"] = true
					if root.Bucket(source) != nil {
						if err := root.DeleteBucket(source); err != nil {
							return err
						}
					}
					return copyBucket(sroot.Bucket(source), root, source)
				}); err != nil {
					return err
				}
			}
			for _, name := range [][]byte{bStatus, bImports, bHTTP, bRepoCPE} {
				sb := stx.Bucket(name)
				if sb == nil {
					continue
				}
				b, err := tx.CreateBucketIfNotExists(name)
				if err != nil {
					return err
				}
				if err := sb.ForEach(func(k, v []byte) error { return b.Put(k, v) }); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

func copyBucket(src, dstParent *bolt.Bucket, name []byte) error {
	dst, err := dstParent.CreateBucket(name)
	if err != nil {
		return err
	}
	dst.FillPercent = 0.9
	return src.ForEach(func(k, v []byte) error {
		if v == nil {
			return copyBucket(src.Bucket(k), dst, k)
		}
		return dst.Put(k, v)
	})
}
