// Package cachedir locates the one directory that holds all of Warden's state
// (the per-layer cache, the vulnerability database, signature verification cache).
package cachedir

import (
	"fmt"
	"os"
	"path/filepath"
)

// Env is the environment variable that moves the state directory.
const Env = "WARDEN_CACHE_DIR"

// Resolve returns flagValue if set, else $WARDEN_CACHE_DIR, else <user cache dir>/warden.
func Resolve(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if v := os.Getenv(Env); v != "" {
		return v, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locating the user cache directory (set --cache-dir or %s): %w", Env, err)
	}
	return filepath.Join(base, "warden"), nil
}

// DBPath is where the vulnerability database lives inside the state directory.
func DBPath(dir string) string { return filepath.Join(dir, "db") }

// LayerCachePath is where per-layer extraction results live.
func LayerCachePath(dir string) string { return filepath.Join(dir, "layers") }
