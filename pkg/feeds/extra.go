package feeds

import (
	"github.com/wardensec/warden/pkg/feeds/amazon"
	"github.com/wardensec/warden/pkg/feeds/csaf"
	"github.com/wardensec/warden/pkg/feeds/debian"
	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/feeds/nvd"
	"github.com/wardensec/warden/pkg/feeds/oval"
)

// extraReader returns the readers of the remaining kinds.
func extraReader(kind string, w *feed.Warnings) reader {
	switch kind {
	case feed.KindDebianJSON, feed.KindDebianList, feed.KindDebianSupport:
		return debian.NewReader(w)
	case feed.KindUbuntuOVAL, feed.KindRHELOVAL:
		return oval.NewReader(w)
	case feed.KindNVD:
		return nvd.NewReader(w)
	case feed.KindAmazon:
		return amazon.NewReader(w)
	case feed.KindCSAF:
		return csaf.NewReader(w)
	}
	return nil
}
