// A module of its own, so that Grype (which only this benchmark helper imports) never enters
// Warden's go.mod, not even through go mod tidy, which reads every build tag. bench/peers.sh builds it.
module wardenbench/grypedb

go 1.26
