// Package all is the one list of extractors Warden runs. Adding an extractor
// means one line here (a test fails when an extractor package is not listed).
package all

import (
	"github.com/wardensec/warden/pkg/extract"
)

// OS returns the OS package extractors.
func OS() []extract.Extractor {
	return []extract.Extractor{
		// os/apk, os/dpkg, os/rpm, os/distro (os-release) go here.
	}
}

// Lang returns the language package extractors.
func Lang() []extract.Extractor {
	return []extract.Extractor{
		// lang/gobinary, lang/npm, lang/python, lang/java, ... go here.
	}
}

// Extractors returns every extractor.
func Extractors() []extract.Extractor {
	return append(OS(), Lang()...)
}
