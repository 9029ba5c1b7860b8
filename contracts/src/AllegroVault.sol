// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice The two TIP-20 calls the vault makes.
interface ITIP20 {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @notice Tempo's signature verifier precompile (TIP-1020): P256 and WebAuthn payer signatures.
interface ISignatureVerifier {
    function recover(bytes32 hash, bytes calldata signature) external view returns (address);
}

/// @title AllegroVault
/// @notice Custody for Allegro payments (SPEC §5). Money deposited here leaves only through a
/// payment order that carries a quorum of the committee's settlement attestations (checked here),
/// or through a forced exit that matures `exitDelay` seconds after it is requested. Every order's
/// contention key `(payer, token, seq)` settles at most once.
contract AllegroVault {
    /// @notice A payment order, signed by `payer` as EIP-712 typed data (SPEC §4).
    struct Payment {
        address payer;
        address recipient;
        address token;
        uint64 amount;
        uint64 fee;
        uint64 seq;
        /// Unix milliseconds: the order settles only while chain time is before it.
        uint64 validBefore;
        /// The tx_hash of the order that funds this one, or zero.
        bytes32 parent;
        /// Pay the recipient's wallet instead of its vault balance.
        bool exit;
        bytes32 memo;
    }

    /// @notice One validator's secp256k1 signature over the order's cert_digest.
    struct Attestation {
        /// Position of the validator in the epoch's committee; strictly increasing in a QC.
        uint256 index;
        /// r || s || v, low s, v 27 or 28.
        bytes signature;
    }

    /// @notice An order with everything settling it needs.
    struct SettleItem {
        Payment order;
        bytes payerSignature;
        uint64 epoch;
        Attestation[] attestations;
    }

    struct ExitRequest {
        uint256 amount;
        uint64 readyAt;
    }

    struct Committee {
        address[] members;
        uint32 threshold;
    }

    error NotAdmin(address caller);
    error InvalidDelays(uint64 maxValidityMillis, uint64 exitDelaySeconds);
    error NotTip20(address token);
    error ZeroAddress();
    error ZeroAmount();
    error InvalidOrder();
    error OrderExpired(uint64 validBefore, uint256 chainTimeMillis);
    error KeySettledOtherwise(bytes32 settledTxHash);
    error InvalidPayerSignature();
    error NonCanonicalSignature();
    error UnknownEpoch(uint64 epoch);
    error EpochRetired(uint64 epoch, uint256 graceEndMillis);
    error AttestationsBelowThreshold(uint256 count, uint256 threshold);
    error AttestationIndicesNotIncreasing(uint256 position);
    error InvalidAttestation(uint256 position);
    error ParentNotSettled(bytes32 parent);
    error InsufficientBalance(uint256 balance, uint256 needed);
    error InsufficientGasForExit(uint256 gasLeft, uint256 needed);
    error EpochNotIncreasing(uint64 epoch, uint64 currentEpoch);
    error GracePeriodActive(uint256 graceEndMillis);
    error EmptyCommittee();
    error ZeroMember(uint256 position);
    error DuplicateMember(uint256 position);
    error NoExitRequested();
    error ExitNotReady(uint64 readyAt);
    error TransferFailed();
    error OnlySelf();

    event Deposited(address indexed account, address indexed token, address from, uint256 amount);
    event Settled(
        address indexed payer,
        address indexed recipient,
        bytes32 indexed txHash,
        address token,
        uint64 seq,
        uint64 amount,
        uint64 fee,
        uint64 validBefore,
        bool exit,
        bytes32 parent,
        address settler
    );
    event SettleSkipped(bytes32 indexed txHash, uint256 index, bytes reason);
    event ExitFallback(bytes32 indexed txHash, address indexed recipient, address token, uint64 amount);
    event ExitRequested(address indexed account, address indexed token, uint256 amount, uint64 readyAt);
    event ExitCancelled(address indexed account, address indexed token);
    event Exited(address indexed account, address indexed token, uint256 amount);
    event CommitteeSet(uint64 indexed epoch, address[] members, uint32 threshold, uint256 graceEndMillis);

    bytes32 private constant PAYMENT_TYPEHASH = keccak256(
        "Payment(address payer,address recipient,address token,uint64 amount,uint64 fee,uint64 seq,uint64 validBefore,bytes32 parent,bool exit,bytes32 memo)"
    );
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    /// secp256k1 n / 2: a larger s is the malleable twin of a canonical signature.
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    address private constant SIGNATURE_VERIFIER = 0x5165300000000000000000000000000000000000;
    uint160 private constant TIP20_PREFIX = uint160(0x20C0) << 144;
    uint160 private constant TIP20_PREFIX_MASK = type(uint160).max << 64;
    /// Gas given to the TIP-20 transfer of an exit order: a transfer that fails with this much
    /// gas is the token's refusal (paused, recipient barred), not a settler's starvation.
    uint256 public constant EXIT_TRANSFER_GAS = 300_000;
    /// Gas the call itself and the code around it need, on top of the 64/63 of EXIT_TRANSFER_GAS.
    uint256 private constant EXIT_CALL_OVERHEAD = 10_000;

    address public immutable admin;
    /// How far past chain time (ms) a sidecar lets an order's validBefore lie.
    uint64 public immutable maxValidity;
    /// Seconds between a forced-exit request and its payout; exitDelay·1000 ≥ maxValidity + 1000.
    uint64 public immutable exitDelay;
    /// The block the vault was deployed in: where a follower starts reading its events.
    uint256 public immutable deployBlock;
    uint256 private immutable cachedChainId;
    bytes32 private immutable cachedDomainSeparator;

    mapping(address account => mapping(address token => uint256)) public balanceOf;
    mapping(address payer => mapping(address token => mapping(uint64 seq => bytes32))) public settledTxHash;
    mapping(bytes32 txHash => bool) public isSettled;
    mapping(address account => mapping(address token => ExitRequest)) public pendingExit;
    mapping(uint64 epoch => Committee) private committees;
    uint64 public currentEpoch;
    uint64 public previousEpoch;
    /// Chain time (ms) until which QCs of previousEpoch still settle; 0 for the first epoch.
    uint256 public graceEnd;

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    constructor(
        address admin_,
        uint64 maxValidity_,
        uint64 exitDelay_,
        uint64 firstEpoch,
        address[] memory firstMembers
    ) {
        if (admin_ == address(0)) revert ZeroAddress();
        if (uint256(exitDelay_) * 1000 < uint256(maxValidity_) + 1000) {
            revert InvalidDelays(maxValidity_, exitDelay_);
        }
        admin = admin_;
        maxValidity = maxValidity_;
        exitDelay = exitDelay_;
        deployBlock = block.number;
        cachedChainId = block.chainid;
        cachedDomainSeparator = _domainSeparator();
        uint32 threshold = _register(firstEpoch, firstMembers);
        currentEpoch = firstEpoch;
        emit CommitteeSet(firstEpoch, firstMembers, threshold, 0);
    }

    // ---- deposits ---------------------------------------------------------------------------

    /// @notice Moves `amount` of the TIP-20 `token` from the caller into its vault balance.
    function deposit(address token, uint256 amount) external {
        _deposit(msg.sender, token, amount);
    }

    /// @notice Moves `amount` of `token` from the caller into `account`'s vault balance.
    function depositFor(address account, address token, uint256 amount) external {
        if (account == address(0)) revert ZeroAddress();
        _deposit(account, token, amount);
    }

    function _deposit(address account, address token, uint256 amount) private {
        if (!_isTip20(token)) revert NotTip20(token);
        if (amount == 0) revert ZeroAmount();
        balanceOf[account][token] += amount;
        emit Deposited(account, token, msg.sender, amount);
        if (!ITIP20(token).transferFrom(msg.sender, address(this), amount)) revert TransferFailed();
    }

    // ---- settlement -------------------------------------------------------------------------

    /// @notice Settles one certified order; the fee goes to the caller's vault balance. A key
    /// already settled with this very order returns without reverting.
    function settle(SettleItem calldata item) external {
        _settle(item, msg.sender);
    }

    /// @notice Settles several orders in the given order (a parent before its child). Each item
    /// is isolated: a failing one is skipped and reported with SettleSkipped; fees go to the caller.
    function settleBatch(SettleItem[] calldata items) external {
        for (uint256 i = 0; i < items.length; i++) {
            try this.settleFor(items[i], msg.sender) {}
            catch (bytes memory reason) {
                emit SettleSkipped(_txHash(items[i].order), i, reason);
            }
        }
    }

    /// @notice settleBatch's isolation boundary; only the vault itself may call it.
    function settleFor(SettleItem calldata item, address settler) external {
        if (msg.sender != address(this)) revert OnlySelf();
        _settle(item, settler);
    }

    function _settle(SettleItem calldata item, address settler) private {
        Payment calldata o = item.order;
        bytes32 txHash_ = _txHash(o);
        bytes32 prior = settledTxHash[o.payer][o.token][o.seq];
        if (prior == txHash_) return;
        if (prior != bytes32(0)) revert KeySettledOtherwise(prior);
        if (block.timestamp * 1000 >= o.validBefore) revert OrderExpired(o.validBefore, block.timestamp * 1000);
        if (o.payer == address(0) || o.recipient == address(0)) revert InvalidOrder();
        if (o.amount == 0) revert ZeroAmount();
        address[] storage members = _acceptedCommittee(item.epoch);
        _checkPayerSignature(o, item.payerSignature);
        if (o.parent != bytes32(0) && !isSettled[o.parent]) revert ParentNotSettled(o.parent);
        bytes32 digest = _certDigest(item.epoch, txHash_, _effectsHash(o));
        _checkAttestations(members, committees[item.epoch].threshold, digest, item.attestations);

        uint256 balance = balanceOf[o.payer][o.token];
        uint256 debit = uint256(o.amount) + o.fee;
        if (balance < debit) revert InsufficientBalance(balance, debit);
        balanceOf[o.payer][o.token] = balance - debit;
        settledTxHash[o.payer][o.token][o.seq] = txHash_;
        isSettled[txHash_] = true;
        if (o.fee != 0) balanceOf[settler][o.token] += o.fee;
        emit Settled(
            o.payer, o.recipient, txHash_, o.token, o.seq, o.amount, o.fee, o.validBefore, o.exit, o.parent, settler
        );
        if (!o.exit) {
            balanceOf[o.recipient][o.token] += o.amount;
        } else if (!_transferOut(o.token, o.recipient, o.amount)) {
            balanceOf[o.recipient][o.token] += o.amount;
            emit ExitFallback(txHash_, o.recipient, o.token, o.amount);
        }
    }

    /// A TIP-20 transfer with exactly EXIT_TRANSFER_GAS; false if the token refuses it.
    function _transferOut(address token, address to, uint64 amount) private returns (bool) {
        uint256 needed = EXIT_TRANSFER_GAS * 64 / 63 + EXIT_CALL_OVERHEAD;
        if (gasleft() < needed) revert InsufficientGasForExit(gasleft(), needed);
        (bool ok, bytes memory result) =
            token.call{gas: EXIT_TRANSFER_GAS}(abi.encodeCall(ITIP20.transfer, (to, amount)));
        return ok && result.length == 32 && abi.decode(result, (bool));
    }

    function _acceptedCommittee(uint64 epoch) private view returns (address[] storage) {
        if (epoch != currentEpoch) {
            if (graceEnd == 0 || epoch != previousEpoch) revert UnknownEpoch(epoch);
            if (block.timestamp * 1000 >= graceEnd) revert EpochRetired(epoch, graceEnd);
        }
        return committees[epoch].members;
    }

    function _checkPayerSignature(Payment calldata o, bytes calldata signature) private view {
        bytes32 digest = _orderDigest(o);
        address signer;
        if (signature.length == 65) {
            signer = _recoverCanonical(digest, signature);
        } else if (signature.length > 0 && (signature[0] == 0x01 || signature[0] == 0x02)) {
            // P256 (0x01) or WebAuthn (0x02); keychain signatures (0x03…) depend on chain state.
            try ISignatureVerifier(SIGNATURE_VERIFIER).recover(digest, signature) returns (address a) {
                signer = a;
            } catch {
                revert InvalidPayerSignature();
            }
        }
        if (signer == address(0) || signer != o.payer) revert InvalidPayerSignature();
    }

    function _checkAttestations(
        address[] storage members,
        uint32 threshold,
        bytes32 digest,
        Attestation[] calldata attestations
    ) private view {
        if (attestations.length < threshold) revert AttestationsBelowThreshold(attestations.length, threshold);
        uint256 next = 0;
        for (uint256 i = 0; i < attestations.length; i++) {
            uint256 index = attestations[i].index;
            // Bounded first, so that `index + 1` cannot overflow into an unnamed Panic.
            if (index >= members.length) revert InvalidAttestation(i);
            if (index < next) revert AttestationIndicesNotIncreasing(i);
            next = index + 1;
            address signer = _recoverCanonical(digest, attestations[i].signature);
            if (signer == address(0) || signer != members[index]) revert InvalidAttestation(i);
        }
    }

    /// ecrecover that accepts only canonical 65-byte signatures (low s, v 27 or 28).
    function _recoverCanonical(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) revert NonCanonicalSignature();
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) revert NonCanonicalSignature();
        return ecrecover(digest, v, r, s);
    }

    // ---- forced exit ------------------------------------------------------------------------

    /// @notice Asks to withdraw `amount` of `token` after exitDelay, replacing any earlier request.
    function requestExit(address token, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint64 readyAt = uint64(block.timestamp) + exitDelay;
        pendingExit[msg.sender][token] = ExitRequest(amount, readyAt);
        emit ExitRequested(msg.sender, token, amount, readyAt);
    }

    /// @notice Withdraws the caller's request in `token`.
    function cancelExit(address token) external {
        if (pendingExit[msg.sender][token].readyAt == 0) revert NoExitRequested();
        delete pendingExit[msg.sender][token];
        emit ExitCancelled(msg.sender, token);
    }

    /// @notice Pays a matured request: min(requested, balance) to the caller's wallet.
    function exit(address token) external {
        ExitRequest memory request = pendingExit[msg.sender][token];
        if (request.readyAt == 0) revert NoExitRequested();
        if (block.timestamp < request.readyAt) revert ExitNotReady(request.readyAt);
        uint256 balance = balanceOf[msg.sender][token];
        uint256 amount = request.amount < balance ? request.amount : balance;
        delete pendingExit[msg.sender][token];
        balanceOf[msg.sender][token] = balance - amount;
        emit Exited(msg.sender, token, amount);
        if (amount != 0 && !ITIP20(token).transfer(msg.sender, amount)) revert TransferFailed();
    }

    // ---- committees -------------------------------------------------------------------------

    /// @notice Registers the committee of a new epoch; QCs of the current one keep settling until
    /// chain time reaches activation + maxValidity + 1 s.
    function setCommittee(uint64 epoch, address[] calldata members) external onlyAdmin {
        if (epoch <= currentEpoch) revert EpochNotIncreasing(epoch, currentEpoch);
        if (block.timestamp * 1000 < graceEnd) revert GracePeriodActive(graceEnd);
        uint32 threshold = _register(epoch, members);
        previousEpoch = currentEpoch;
        currentEpoch = epoch;
        graceEnd = block.timestamp * 1000 + maxValidity + 1000;
        emit CommitteeSet(epoch, members, threshold, graceEnd);
    }

    function _register(uint64 epoch, address[] memory members) private returns (uint32 threshold) {
        uint256 n = members.length;
        if (n == 0) revert EmptyCommittee();
        for (uint256 i = 0; i < n; i++) {
            if (members[i] == address(0)) revert ZeroMember(i);
            for (uint256 j = 0; j < i; j++) {
                if (members[j] == members[i]) revert DuplicateMember(i);
            }
        }
        threshold = uint32(n - (n - 1) / 3);
        committees[epoch] = Committee(members, threshold);
    }

    /// @notice An epoch's settlement addresses and QC threshold (empty if never registered).
    function committee(uint64 epoch) external view returns (address[] memory members, uint32 threshold) {
        Committee storage c = committees[epoch];
        return (c.members, c.threshold);
    }

    // ---- hashes (SPEC §4) -------------------------------------------------------------------

    /// @notice The EIP-712 domain separator: name "Allegro", version "1", this chain and vault.
    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return block.chainid == cachedChainId ? cachedDomainSeparator : _domainSeparator();
    }

    /// @notice The EIP-712 digest the payer signs.
    function orderDigest(Payment calldata o) external view returns (bytes32) {
        return _orderDigest(o);
    }

    /// @notice The order's tx_hash as every Allegro component computes it.
    function txHash(Payment calldata o) external view returns (bytes32) {
        return _txHash(o);
    }

    /// @notice The order's effects_hash.
    function effectsHash(Payment calldata o) external pure returns (bytes32) {
        return _effectsHash(o);
    }

    /// @notice What a validator signs (Ed25519) and attests (secp256k1) for an order.
    function certDigest(uint64 epoch, bytes32 txHash_, bytes32 effectsHash_) external view returns (bytes32) {
        return _certDigest(epoch, txHash_, effectsHash_);
    }

    function _domainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("Allegro"), keccak256("1"), block.chainid, address(this))
        );
    }

    function _orderDigest(Payment calldata o) private view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                PAYMENT_TYPEHASH,
                o.payer,
                o.recipient,
                o.token,
                o.amount,
                o.fee,
                o.seq,
                o.validBefore,
                o.parent,
                o.exit,
                o.memo
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", DOMAIN_SEPARATOR(), structHash));
    }

    /// sha256("tempo.fastpay.tx.v1" || u64 chain_id || bytes(order_bytes) || nonce_key || u64 seq
    ///        || u8 1 || u64 validBefore || parent), with order_bytes the 11-word ABI encoding.
    function _txHash(Payment calldata o) private view returns (bytes32) {
        bytes memory orderBytes = abi.encode(
            address(this), o.payer, o.recipient, o.token, o.amount, o.fee, o.seq, o.validBefore, o.parent, o.exit, o.memo
        );
        bytes memory parentPart =
            o.parent == bytes32(0) ? abi.encodePacked(uint8(0)) : abi.encodePacked(uint8(1), o.parent);
        return sha256(
            abi.encodePacked(
                "tempo.fastpay.tx.v1",
                uint64(block.chainid),
                uint32(orderBytes.length),
                orderBytes,
                bytes32(uint256(uint160(o.token))),
                o.seq,
                uint8(1),
                o.validBefore,
                parentPart
            )
        );
    }

    function _effectsHash(Payment calldata o) private pure returns (bytes32) {
        return sha256(
            abi.encodePacked(
                "tempo.fastpay.effects.v1",
                o.payer,
                o.recipient,
                o.amount,
                o.token,
                bytes32(uint256(uint160(o.token))),
                o.seq
            )
        );
    }

    function _certDigest(uint64 epoch, bytes32 txHash_, bytes32 effectsHash_) private view returns (bytes32) {
        return sha256(
            abi.encodePacked(
                "tempo.fastpay.cert.preimage.v1",
                uint32(21),
                "tempo.fastpay.cert.v1",
                uint16(1),
                uint64(block.chainid),
                epoch,
                txHash_,
                effectsHash_
            )
        );
    }

    function _isTip20(address token) private pure returns (bool) {
        return uint160(token) & TIP20_PREFIX_MASK == TIP20_PREFIX;
    }
}
