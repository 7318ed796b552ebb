.PHONY: test-contract
test-contract:
	@echo "contract: not written yet"
