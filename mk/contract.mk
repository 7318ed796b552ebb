# Contract tests against the official StackOne TypeScript SDK (pinned in contract/package.json): the receiver's
# query encoding must match the SDK's, and the bundled fake's pages must pass the SDK's own response schemas.
# Needs Node.js and npm; without them the Go tests skip themselves with a message.
CONTRACT_DIR := contract

.PHONY: test-contract
## test-contract: install the pinned SDK (npm ci) and run the SDK contract tests
test-contract:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
		echo "contract: npm ci in $(CONTRACT_DIR)/ (node $$(node --version))"; \
		cd $(CONTRACT_DIR) && npm ci --no-audit --no-fund; \
	else \
		echo "contract: node/npm not found, skipping npm ci; the SDK contract tests will skip"; \
	fi
	go test -count=1 -run SDKContract ./$(RECEIVER)/internal/stackoneapi/
