// Command peerdata lays the corpus feeds that Warden imports (Alpine secdb, the Go vulndb) out in the folder
// layouts that the peers' own database builders read, so that Trivy and Grype scan with the same advisory data as
// Warden in bench/scan.sh:
//
//	-trivy DIR   DIR/vuln-list/alpine/<release>/<repo>/<origin>.json (one secdb package per file, as the vuln-list
//	             repository keeps it) and DIR/govulndb/data/osv/GO-*.json (a real directory, as in a golang/vulndb
//	             checkout): the --cache-dir of `trivy-db build --only-update alpine --only-update govulndb`.
//	-vunnel DIR  vunnel's flat-file provider results: DIR/alpine/results/<release>/<cve>.json (os schema, one record
//	             per release and vulnerability, FixedIn per origin package) and DIR/govulndb/results/<GO-ID>.json
//	             (the OSV record in an osv-schema envelope). bench/cmd/grypedb adds the listing and metadata.json
//	             and runs grype/db.Build over it.
//
// Usage: peerdata -alpine CORPUS/feeds/alpine-secdb -govulndb CORPUS/feeds/go-vulndb-osv-all.zip [-trivy DIR] [-vunnel DIR]
package main

import (
	"archive/zip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

type secdb struct {
	Apkurl        string   `json:"apkurl"`
	Archs         []string `json:"archs"`
	Reponame      string   `json:"reponame"`
	Urlprefix     string   `json:"urlprefix"`
	Distroversion string   `json:"distroversion"`
	Packages      []struct {
		Pkg struct {
			Name     string              `json:"name"`
			Secfixes map[string][]string `json:"secfixes"`
		} `json:"pkg"`
	} `json:"packages"`
}

func main() {
	alpine := flag.String("alpine", "", "directory of Alpine secdb files (vX.Y/{main,community}.json)")
	govulndb := flag.String("govulndb", "", "zip of the Go vulndb in OSV (osv/GO-*.json)")
	trivy := flag.String("trivy", "", "write the trivy-db cache-dir layout here")
	vunnel := flag.String("vunnel", "", "write vunnel flat-file provider results here")
	flag.Parse()
	if *alpine == "" || *govulndb == "" || (*trivy == "" && *vunnel == "") {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*alpine, *govulndb, *trivy, *vunnel); err != nil {
		fmt.Fprintln(os.Stderr, "peerdata:", err)
		os.Exit(1)
	}
}

func run(alpineDir, goZip, trivyDir, vunnelDir string) error {
	files, err := filepath.Glob(filepath.Join(alpineDir, "*", "*.json"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	type fix struct{ pkg, version string }
	vunnelAlpine := map[string]map[string][]fix{} // release -> vulnerability -> fixes
	var nAlpine int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var db secdb
		if err := json.Unmarshal(b, &db); err != nil {
			return fmt.Errorf("secdb %s: %w", f, err)
		}
		release := strings.TrimPrefix(db.Distroversion, "v")
		if release == "" {
			return fmt.Errorf("secdb %s: no distroversion", f)
		}
		for _, p := range db.Packages {
			nAlpine++
			if trivyDir != "" {
				// The vuln-list record: the secdb's header fields plus one package.
				rec := map[string]any{
					"name": p.Pkg.Name, "secfixes": p.Pkg.Secfixes, "apkurl": db.Apkurl, "archs": db.Archs,
					"urlprefix": db.Urlprefix, "reponame": db.Reponame, "distroversion": db.Distroversion,
				}
				out := filepath.Join(trivyDir, "vuln-list", "alpine", release, db.Reponame, p.Pkg.Name+".json")
				if err := writeJSON(out, rec); err != nil {
					return err
				}
			}
			for version, ids := range p.Pkg.Secfixes {
				if version == "0" { // "never affected" in secdb: no vulnerable range
					continue
				}
				for _, id := range ids {
					fields := strings.Fields(strings.ReplaceAll(id, "CVE_", "CVE-"))
					if len(fields) == 0 {
						continue
					}
					if vunnelAlpine[release] == nil {
						vunnelAlpine[release] = map[string][]fix{}
					}
					vunnelAlpine[release][fields[0]] = append(vunnelAlpine[release][fields[0]], fix{p.Pkg.Name, version})
				}
			}
		}
	}
	var nVunnelAlpine int
	if vunnelDir != "" {
		for release, vulns := range vunnelAlpine {
			ns := "alpine:" + release
			for id, fixes := range vulns {
				var fixedIn []map[string]any
				for _, f := range fixes {
					fixedIn = append(fixedIn, map[string]any{"Name": f.pkg, "NamespaceName": ns, "Version": f.version, "VersionFormat": "apk"})
				}
				env := map[string]any{
					"identifier": release + "/" + strings.ToLower(id),
					"schema":     "https://raw.githubusercontent.com/anchore/vunnel/main/schema/vulnerability/os/schema-1.1.0.json",
					"item": map[string]any{"Vulnerability": map[string]any{
						"CVSS": []any{}, "Description": "", "FixedIn": fixedIn, "Link": "https://security.alpinelinux.org/vuln/" + id,
						"Metadata": map[string]any{}, "Name": id, "NamespaceName": ns, "Severity": "Unknown",
					}},
				}
				out := filepath.Join(vunnelDir, "alpine", "results", release, cleanName(strings.ToLower(id))+".json")
				if err := writeJSON(out, env); err != nil {
					return err
				}
				nVunnelAlpine++
			}
		}
	}

	zr, err := zip.OpenReader(goZip)
	if err != nil {
		return fmt.Errorf("go vulndb %s: %w", goZip, err)
	}
	defer zr.Close()
	var nGo int
	for _, zf := range zr.File {
		name := path.Base(zf.Name)
		if zf.FileInfo().IsDir() || !strings.HasSuffix(name, ".json") || !strings.HasPrefix(name, "GO-") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("go vulndb %s: %s: %w", goZip, zf.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
		rc.Close()
		if err != nil {
			return fmt.Errorf("go vulndb %s: %s: %w", goZip, zf.Name, err)
		}
		if !json.Valid(b) {
			return fmt.Errorf("go vulndb %s: %s: not JSON", goZip, zf.Name)
		}
		nGo++
		if trivyDir != "" {
			if err := writeFile(filepath.Join(trivyDir, "govulndb", "data", "osv", name), b); err != nil {
				return err
			}
		}
		if vunnelDir != "" {
			env := map[string]any{
				"identifier": strings.TrimSuffix(name, ".json"),
				"schema":     "https://raw.githubusercontent.com/anchore/vunnel/main/schema/vulnerability/osv/schema-1.6.1.json",
				"item":       json.RawMessage(b),
			}
			if err := writeJSON(filepath.Join(vunnelDir, "govulndb", "results", name), env); err != nil {
				return err
			}
		}
	}
	fmt.Printf("alpine: %d secdb package records (%d release/vulnerability records for vunnel); go vulndb: %d records\n", nAlpine, nVunnelAlpine, nGo)
	return nil
}

func cleanName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || r == '+' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, s)
}

func writeJSON(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return writeFile(name, b)
}

func writeFile(name string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, b, 0o644)
}
