// Package all is the one list of extractors Warden runs. Adding an extractor
// means one line here (a test fails when an extractor package is not listed).
package all

import (
	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/lang/cargo"
	"github.com/wardensec/warden/pkg/extract/lang/composer"
	"github.com/wardensec/warden/pkg/extract/lang/dotnet"
	"github.com/wardensec/warden/pkg/extract/lang/gobinary"
	"github.com/wardensec/warden/pkg/extract/lang/java"
	"github.com/wardensec/warden/pkg/extract/lang/npm"
	"github.com/wardensec/warden/pkg/extract/lang/python"
	"github.com/wardensec/warden/pkg/extract/lang/ruby"
	"github.com/wardensec/warden/pkg/extract/lang/rustaudit"
	"github.com/wardensec/warden/pkg/extract/os/apk"
	"github.com/wardensec/warden/pkg/extract/os/dpkg"
	"github.com/wardensec/warden/pkg/extract/os/rpm"
)

// OS returns the OS package extractors.
func OS() []extract.Extractor {
	return []extract.Extractor{
		apk.New(),
		dpkg.New(),
		rpm.New(),
		// The distro (os-release) is detected by pkg/walk through pkg/extract/os/distro.
	}
}

// Lang returns the language package extractors.
func Lang() []extract.Extractor {
	return []extract.Extractor{
		gobinary.New(),
		npm.New(),
		python.New(),
		java.New(),
		cargo.New(),
		rustaudit.New(),
		ruby.New(),
		composer.New(),
		dotnet.New(),
	}
}

// Extractors returns every extractor.
func Extractors() []extract.Extractor {
	return append(OS(), Lang()...)
}
