# The receiver against the collector release before ours. Users add the receiver to their own ocb
# builds, which follow the collector's releases, so a collector API change that breaks the receiver on the line
# they are on should fail here first. go.mod is never touched: a copy of it is moved to that line with `go get`
# and used with -modfile. Included by the root Makefile, which defines RECEIVER.
#
# To move the check: set the three versions to the release before the one go.mod is on, and list in
# COMPAT_BETA_MODULES the modules that are v1 in go.mod but were still v0 on that release.

COMPAT_STABLE       := v1.70.0
COMPAT_BETA         := v0.164.0
COMPAT_CONTRIB      := v0.164.0
COMPAT_BETA_MODULES := go.opentelemetry.io/collector/config/confighttp
COMPAT_MOD          := _build/compat/compat.mod

COMPAT_NEXT         := _build/compat/next.mod

.PHONY: test-compat

# The copy of go.mod on the older line, made again only when go.mod, go.sum or this file change. It is made under
# another name and renamed once go get and the check below have passed, so a failed attempt is never taken for a
# finished one.
$(COMPAT_MOD): go.mod go.sum mk/compat.mk
	mkdir -p $(dir $(COMPAT_MOD))
	cp go.mod $(COMPAT_NEXT)
	cp go.sum $(COMPAT_NEXT:.mod=.sum)
	@# Every collector and contrib module go.mod names, at the older line: a module that does not exist there
	@# fails the download, and one that would pull a newer core back in fails go get's consistency check.
	go get -modfile=$(COMPAT_NEXT) $$(awk -v stable=$(COMPAT_STABLE) -v beta=$(COMPAT_BETA) -v contrib=$(COMPAT_CONTRIB) \
		-v betamods=" $(COMPAT_BETA_MODULES) " ' \
		/^require \($$/ { req = 1; next } req && /^\)/ { req = 0 } \
		{ path = req ? $$1 : ($$1 == "require" ? $$2 : ""); version = req ? $$2 : $$3 } \
		path ~ /^go\.opentelemetry\.io\/collector\// { \
			print path "@" ((version ~ /^v1\./ && index(betamods, " " path " ") == 0) ? stable : beta) } \
		path ~ /^github\.com\/open-telemetry\/opentelemetry-collector-contrib\// { print path "@" contrib }' go.mod)
	@# Nothing of our own line may be left in the build list.
	@left=$$(go list -modfile=$(COMPAT_NEXT) -m all | awk '$$1 ~ /^(go\.opentelemetry\.io\/collector|github\.com\/open-telemetry\/opentelemetry-collector-contrib)\// && $$2 != "$(COMPAT_STABLE)" && $$2 != "$(COMPAT_BETA)" && $$2 != "$(COMPAT_CONTRIB)"'); \
		if [ -n "$$left" ]; then echo "test-compat: not on the $(COMPAT_BETA) line:"; echo "$$left"; exit 1; fi
	mv $(COMPAT_NEXT:.mod=.sum) $(COMPAT_MOD:.mod=.sum)
	mv $(COMPAT_NEXT) $(COMPAT_MOD)

## test-compat: build the receiver against the previous collector release (core COMPAT_STABLE / COMPAT_BETA,
##   contrib COMPAT_CONTRIB), with a copy of go.mod (go.mod and go.sum stay as they are), and run the tests of its
##   packages that import the collector; the others (internal/stackoneapi) cannot change with the collector's line
test-compat: $(COMPAT_MOD)
	go test -modfile=$(COMPAT_MOD) -count=1 $$(go list -modfile=$(COMPAT_MOD) \
		-f '{{.ImportPath}}{{range .Deps}} {{.}}{{end}}' ./$(RECEIVER)/... | awk '/ go\.opentelemetry\.io\/collector\// { print $$1 }')
