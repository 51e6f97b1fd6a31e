package match

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Finding is one advisory affecting one installed package.
type Finding struct {
	Package  inventory.Package
	Advisory vulndb.Advisory // ID, aliases, severity and its source, title, URLs, ...
	// Status is vulndb.StatusFixed (a fix exists: FixedVersion), StatusUnfixed,
	// StatusWontFix or StatusEndOfLife.
	Status       string
	FixedVersion string
	// Linked is set for Go findings when the binary's symbols are known: true
	// when a vulnerable symbol is linked into the binary, false when not.
	Linked *bool
	// Suppressed is set by the ignore file or a VEX statement (pkg/ignore).
	Suppressed *Suppression
}

// Suppression says why a finding does not count.
type Suppression struct {
	Kind          string `json:"kind"`                    // "ignore-file" or "vex"
	Reason        string `json:"reason"`                  // the rule's reason, or the VEX status, justification and impact statement
	Justification string `json:"justification,omitempty"` // VEX justification (vulnerable_code_not_present, ...)
	Source        string `json:"source"`                  // the file (and line) that said so
}

// IDs returns the finding's advisory id followed by its aliases.
func (f *Finding) IDs() []string {
	return append([]string{f.Advisory.ID}, f.Advisory.Aliases...)
}

// HasID reports whether id is the advisory's id or one of its aliases.
func (f *Finding) HasID(id string) bool {
	for _, x := range f.IDs() {
		if strings.EqualFold(x, id) {
			return true
		}
	}
	return false
}

// Options tune Match.
type Options struct {
	// OSOnly skips language packages.
	OSOnly bool
	// Logger gets debug messages (unparseable versions, skipped packages); nil = silent.
	Logger *slog.Logger
	// Matchers replaces the default list (tests); nil = Matchers().
	Matchers []Matcher
	// Env is the matchers' shared state, when the caller made one for this
	// image before (Env.KeepSymbols, whose lookups Match then reuses); nil =
	// a new one. Its Logger is set from Logger.
	Env *Env
}

// Matcher matches the packages of one kind.
type Matcher interface {
	Name() string
	// Handles reports whether the matcher judges this package in this image.
	Handles(distro *inventory.Distro, pkg *inventory.Package) bool
	// Match returns the advisories affecting pkg.
	Match(ctx context.Context, db vulndb.Reader, distro *inventory.Distro, pkg *inventory.Package, env *Env) ([]Finding, error)
}

// Env is what the matchers share during one Match call: the logger and the
// parsed-version caches of the version schemes.
type Env struct {
	Logger  *slog.Logger
	memos   map[string]Scheme
	lookups map[string][]vulndb.Advisory // namespace NUL name -> the database's answer, once per Match call
	shared  map[string][]vulndb.Advisory // a forked Env's parent's lookups, read only

	cpes     map[string]bool // product streams (productKey) of the image's Red Hat content sets
	cpesDone bool
}

// lookup is db.Lookup, remembered for this Match call: an image with many Go
// binaries asks for stdlib (hundreds of advisories with their imports) once
// per binary. Callers must not modify the advisories. From a
// vulndb.RowReader they come without their bodies (LookupRows): Match
// completes those of the findings.
func (e *Env) lookup(ctx context.Context, db vulndb.Reader, ns, name string) ([]vulndb.Advisory, error) {
	k := ns + "\x00" + name
	if advs, ok := e.lookups[k]; ok {
		return advs, nil
	}
	if advs, ok := e.shared[k]; ok {
		return advs, nil
	}
	var advs []vulndb.Advisory
	var err error
	if rr, ok := db.(vulndb.RowReader); ok {
		advs, err = rr.LookupRows(ctx, ns, name) // bodies for the findings only: complete
	} else {
		advs, err = db.Lookup(ctx, ns, name)
	}
	if err != nil {
		return nil, err
	}
	if e.lookups == nil {
		e.lookups = map[string][]vulndb.Advisory{}
	}
	e.lookups[k] = advs
	return advs, nil
}

// fork returns an Env for one of Match's goroutines: caches of its own, and
// e's lookups to read (e is not written while its forks run).
func (e *Env) fork() *Env {
	return &Env{Logger: e.Logger, shared: e.lookups}
}

// Scheme returns s with a cache of parsed versions for this Match call.
func (e *Env) Scheme(s Scheme) Scheme {
	if e.memos == nil {
		e.memos = map[string]Scheme{}
	}
	m, ok := e.memos[s.Name()]
	if !ok {
		m = newMemo(s)
		e.memos[s.Name()] = m
	}
	return m
}

// Matchers is the one list of matchers, OS first.
func Matchers() []Matcher {
	return []Matcher{
		apkMatcher{osMatcher{"apk", inventory.Apk}},
		dpkgMatcher{osMatcher{"dpkg", inventory.Dpkg}},
		rpmMatcher{osMatcher{"rpm", inventory.Rpm}},
		goMatcher{},
		langMatcher{},
	}
}

// Match returns the findings for every package of inv, deduplicated (the same
// advisory, by id or alias, on the same package, once) and sorted by package
// then advisory id. Language packages owned by an OS package (OwnedBy) are
// not matched against upstream advisories: the distro's data judges them;
// Match marks them (Inventory.MarkOwned) when the extractors have not.
func Match(ctx context.Context, db vulndb.Reader, inv *inventory.Inventory, opt Options) ([]Finding, error) {
	if db == nil || inv == nil {
		return nil, fmt.Errorf("match: nil database or inventory")
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	matchers := opt.Matchers
	if matchers == nil {
		matchers = Matchers()
	}
	inv.MarkOwned()
	env := opt.Env
	if env == nil {
		env = &Env{}
	}
	env.Logger = log
	var todo []*inventory.Package
	for i := range inv.Packages {
		p := &inv.Packages[i]
		if !IsOS(p.Ecosystem) {
			if opt.OSOnly {
				continue
			}
			if p.OwnedBy != "" {
				log.Debug("not matching a distro-owned language package against upstream advisories", "package", p.Name, "version", p.Version, "owned_by", p.OwnedBy)
				continue
			}
		}
		todo = append(todo, p)
	}
	found := make([][]Finding, len(todo))
	errs := make([]error, len(todo))
	one := func(k int, env *Env) {
		p := todo[k]
		for _, m := range matchers {
			if !m.Handles(inv.Distro, p) {
				continue
			}
			fs, err := m.Match(ctx, db, inv.Distro, p, env)
			if err == nil {
				err = complete(ctx, db, fs)
			}
			if err != nil {
				errs[k] = fmt.Errorf("matching %s package %s %s: %w", p.Ecosystem, p.Name, p.Version, err)
				return
			}
			found[k] = dedupe(fs)
			return
		}
	}
	// The packages are judged in parallel when the database is safe for
	// concurrent use (a RowReader: vulndb.DB), each goroutine with an Env
	// of its own; the findings are then gathered in package order.
	workers := 1
	if _, ok := db.(vulndb.RowReader); ok {
		workers = min(runtime.GOMAXPROCS(0), len(todo))
	}
	if workers <= 1 {
		for k := range todo {
			if ctx.Err() != nil {
				break
			}
			if one(k, env); errs[k] != nil {
				break
			}
		}
	} else {
		var next atomic.Int64
		var failed atomic.Bool
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				env := env.fork()
				for !failed.Load() && ctx.Err() == nil {
					k := int(next.Add(1) - 1)
					if k >= len(todo) {
						return
					}
					if one(k, env); errs[k] != nil {
						failed.Store(true)
					}
				}
			})
		}
		wg.Wait()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Finding
	for k := range todo {
		if errs[k] != nil {
			return nil, errs[k]
		}
		out = append(out, found[k]...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if ka, kb := a.Package.Key(), b.Package.Key(); ka != kb {
			return ka < kb
		}
		return a.Advisory.ID < b.Advisory.ID
	})
	return out, nil
}

// complete fills in the bodies of the findings' advisories, which
// Env.lookup left out when db is a vulndb.RowReader: of the advisories a scan
// looks up, only those that match are decoded. Before it, a matcher sees no
// aliases, scores or texts, and no resolved severity.
func complete(ctx context.Context, db vulndb.Reader, fs []Finding) error {
	rr, ok := db.(vulndb.RowReader)
	if !ok || len(fs) == 0 {
		return nil
	}
	advs := make([]*vulndb.Advisory, len(fs))
	for i := range fs {
		advs[i] = &fs[i].Advisory
	}
	return rr.Complete(ctx, advs)
}

// IsOS reports whether an ecosystem is an OS package manager's.
func IsOS(ecosystem string) bool { return inventory.IsOS(ecosystem) }

// dedupe merges findings on one package that name the same vulnerability (by
// id or alias), keeping the first and joining the aliases.
func dedupe(fs []Finding) []Finding {
	var out []Finding
	seen := map[string]int{} // upper-cased id or alias -> index in out
	for _, f := range fs {
		idx := -1
		for _, id := range f.IDs() {
			if i, ok := seen[strings.ToUpper(id)]; ok {
				idx = i
				break
			}
		}
		if idx < 0 {
			out = append(out, f)
			idx = len(out) - 1
		} else {
			kept := &out[idx]
			for _, id := range f.IDs() {
				if !kept.HasID(id) {
					kept.Advisory.Aliases = append(slices.Clip(kept.Advisory.Aliases), id) // never into the shared advisory's array
				}
			}
		}
		for _, id := range out[idx].IDs() {
			seen[strings.ToUpper(id)] = idx
		}
	}
	return out
}

// judge decides whether version v of a package is affected by adv under
// scheme s, and with which fixed version. ok is false when not affected.
func judge(env *Env, s Scheme, adv *vulndb.Advisory, v string) (status, fixed string, ok bool, err error) {
	switch adv.Status {
	case vulndb.StatusNotAffected, vulndb.StatusLimitedSupport:
		// limited-support is informational (Debian's security-support-limited), not a vulnerability.
		return "", "", false, nil
	}
	var rangeErr error
	if len(adv.Ranges) > 0 {
		for _, r := range adv.Ranges {
			in, err := inRange(env, s, r, v)
			if err != nil {
				rangeErr = err
				continue
			}
			if in {
				fixed := r.Fixed
				if fixed == "" && r.LastAffected == "" {
					fixed = singleFixed(adv.FixedVersion)
				}
				return statusOf(adv, fixed), fixed, true, nil
			}
		}
	}
	for _, x := range adv.Versions {
		if x == v || strings.TrimPrefix(x, "v") == strings.TrimPrefix(v, "v") {
			fixed := lowestFixedAbove(s, adv, v)
			return statusOf(adv, fixed), fixed, true, nil
		}
	}
	if rangeErr != nil {
		return "", "", false, rangeErr
	}
	if len(adv.Ranges) > 0 || len(adv.Versions) > 0 {
		return "", "", false, nil // only the ranges and listed versions are affected
	}
	switch adv.Status {
	case vulndb.StatusFixed, "":
		if adv.FixedVersion == "" {
			return vulndb.StatusUnfixed, "", true, nil
		}
		c, err := s.Compare(v, adv.FixedVersion)
		if err != nil {
			return "", "", false, err
		}
		if c < 0 {
			return vulndb.StatusFixed, adv.FixedVersion, true, nil
		}
		return "", "", false, nil
	default: // unfixed, wont-fix, end-of-life: every version is affected
		return adv.Status, "", true, nil
	}
}

// singleFixed returns a fixed version unless it lists several ("2.0.6, 1.26.17").
func singleFixed(f string) string {
	if strings.ContainsAny(f, ", ") {
		return ""
	}
	return f
}

// lowestFixedAbove is the lowest range fix above v: the upgrade that fixes a
// version matched through the OSV "versions" list.
func lowestFixedAbove(s Scheme, adv *vulndb.Advisory, v string) string {
	best := ""
	for _, r := range adv.Ranges {
		if r.Fixed == "" {
			continue
		}
		if c, err := s.Compare(r.Fixed, v); err != nil || c <= 0 {
			continue
		}
		if best == "" {
			best = r.Fixed
		} else if c, err := s.Compare(r.Fixed, best); err == nil && c < 0 {
			best = r.Fixed
		}
	}
	if best == "" {
		best = singleFixed(adv.FixedVersion)
	}
	return best
}

func statusOf(adv *vulndb.Advisory, fixed string) string {
	if fixed != "" {
		return vulndb.StatusFixed
	}
	if adv.Status == "" || adv.Status == vulndb.StatusFixed {
		return vulndb.StatusUnfixed
	}
	return adv.Status
}

// inRange applies one OSV range: introduced <= v, and v < fixed or v <= last_affected.
func inRange(env *Env, s Scheme, r vulndb.Range, v string) (bool, error) {
	if r.Type == "SEMVER" && s.Name() != GoMod.Name() {
		s = env.Scheme(Npm) // plain semver
	}
	if r.Introduced != "" && r.Introduced != "0" {
		c, err := s.Compare(v, r.Introduced)
		if err != nil {
			return false, err
		}
		if c < 0 {
			return false, nil
		}
	}
	if r.Fixed != "" {
		c, err := s.Compare(v, r.Fixed)
		if err != nil {
			return false, err
		}
		return c < 0, nil
	}
	if r.LastAffected != "" {
		c, err := s.Compare(v, r.LastAffected)
		if err != nil {
			return false, err
		}
		return c <= 0, nil
	}
	return true, nil
}

// lookupAll looks names up in one namespace and judges every advisory,
// skipping the same advisory id met under another name.
func lookupAll(ctx context.Context, db vulndb.Reader, s Scheme, ns string, names []string, version string, pkg *inventory.Package, env *Env) ([]Finding, error) {
	return lookupFiltered(ctx, db, s, ns, names, version, pkg, env, nil)
}

// lookupFiltered is lookupAll judging only the advisory rows keep accepts
// (nil: all); a row it refuses does not claim the advisory's id, so another
// row of the same advisory (another module stream, another product) still can.
func lookupFiltered(ctx context.Context, db vulndb.Reader, s Scheme, ns string, names []string, version string, pkg *inventory.Package, env *Env, keep func(*vulndb.Advisory) bool) ([]Finding, error) {
	s = env.Scheme(s)
	var out []Finding
	seen := map[string]bool{}
	for _, name := range names {
		if name == "" {
			continue
		}
		key := normalizeName(ns, name)
		if seen["name:"+key] {
			continue
		}
		seen["name:"+key] = true
		advs, err := env.lookup(ctx, db, ns, key)
		if err != nil {
			return nil, fmt.Errorf("looking up %q in %s: %w", key, ns, err)
		}
		for i := range advs {
			adv := &advs[i]
			if seen["id:"+adv.ID] || (keep != nil && !keep(adv)) {
				continue
			}
			status, fixed, ok, err := judge(env, s, adv, version)
			if err != nil {
				env.Logger.Debug("skipping advisory: version not comparable", "advisory", adv.ID, "namespace", ns, "package", name, "version", version, "err", err)
				continue
			}
			if !ok {
				continue
			}
			seen["id:"+adv.ID] = true
			out = append(out, Finding{Package: *pkg, Advisory: *adv, Status: status, FixedVersion: fixed})
		}
	}
	return out, nil
}

// Uncovered lists, as warnings, the groups of packages that Match cannot
// judge because the database has no namespace for them (an OS release or a
// language ecosystem that was never imported, or an OS the image does not
// identify). has reports whether the database holds a namespace.
func Uncovered(inv *inventory.Inventory, has func(namespace string) bool, osOnly bool) []string {
	counts := map[string]int{}
	var order []string
	add := func(key string) {
		if counts[key] == 0 {
			order = append(order, key)
		}
		counts[key]++
	}
	for i := range inv.Packages {
		p := &inv.Packages[i]
		switch {
		case IsOS(p.Ecosystem):
			ns := Namespace(inv.Distro)
			if ns == "" {
				add("\x00" + p.Ecosystem)
			} else if !has(ns) {
				add(ns)
			}
		case osOnly || p.OwnedBy != "" || p.Ecosystem == "":
		case !has(p.Ecosystem):
			add(p.Ecosystem)
		}
	}
	var out []string
	for _, k := range order {
		if eco, ok := strings.CutPrefix(k, "\x00"); ok {
			out = append(out, fmt.Sprintf("%d %s packages not checked: the image's OS release is unknown (no os-release)", counts[k], eco))
			continue
		}
		out = append(out, fmt.Sprintf("%d packages not checked: the database has no data for %s (import its feed)", counts[k], k))
	}
	return out
}
