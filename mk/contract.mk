# Contract tests against the official StackOne TypeScript SDK (pinned in contract/package.json): the receiver's
# query encoding must match the SDK's, and the bundled fake's pages must pass the SDK's own response schemas.
# Needs Node.js and npm; without them the Go tests skip themselves with a message.
CONTRACT_DIR := contract
# Written after a successful `npm ci`: node_modules is installed again only when the lock file or package.json is
# newer than it.
CONTRACT_STAMP := $(CONTRACT_DIR)/node_modules/.npm-ci-done

.PHONY: test-contract contract-sdk

## contract-sdk: install the pinned SDK into contract/node_modules (npm ci), unless it is there and newer than the
##   lock file; `make test` runs it before the race run, which then takes the SDK contract tests too
contract-sdk:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
		echo "contract: node/npm not found, skipping npm ci; the SDK contract tests will skip"; \
	elif [ -e $(CONTRACT_STAMP) ] && [ $(CONTRACT_STAMP) -nt $(CONTRACT_DIR)/package-lock.json ] && \
	     [ $(CONTRACT_STAMP) -nt $(CONTRACT_DIR)/package.json ]; then \
		echo "contract: $(CONTRACT_DIR)/node_modules is up to date (node $$(node --version))"; \
	else \
		echo "contract: npm ci in $(CONTRACT_DIR)/ (node $$(node --version))"; \
		(cd $(CONTRACT_DIR) && npm ci --no-audit --no-fund) && touch $(CONTRACT_STAMP); \
	fi

## test-contract: install the pinned SDK (contract-sdk) and run the SDK contract tests alone
test-contract: contract-sdk
	go test -count=1 -run SDKContract ./$(RECEIVER)/internal/stackoneapi/
