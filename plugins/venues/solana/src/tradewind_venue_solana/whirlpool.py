"""Orca Whirlpools (concentrated liquidity): account decoding, exact swap quotes, and the
``swap_v2`` instruction.

The math is a port of Orca's own (``rust-sdk/core`` of github.com/orca-so/whirlpools, the code
``@orca-so/whirlpools-core`` compiles to WASM) with Python integers for its u128/u256: the
Q64.64 tick-to-sqrt-price table, the amount deltas with their rounding, the swap step and the
walk over initialized ticks across tick arrays. Pools with the static fee only (a pool
initialized with the adaptive fee needs its oracle account, which is not decoded here: quoting
one raises). tests/test_solana_whirlpool.py checks decoding, quotes and instruction bytes
against the official SDKs run under node.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import attrs
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

WHIRLPOOL_PROGRAM = Pubkey.from_string("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc")
MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TYDcAMbqxE2v4uD9RL3PZ4")
TICK_ARRAY_SIZE = 88
MIN_TICK_INDEX, MAX_TICK_INDEX = -443636, 443636
MIN_SQRT_PRICE, MAX_SQRT_PRICE = 4295048016, 79226673515401279992447579055
FEE_RATE_DENOMINATOR = 1_000_000
BPS_DENOMINATOR = 10_000
U64_MAX = 2**64 - 1
_TICK_LEN = 113


class WhirlpoolError(Exception):
    """A quote or decode the program would refuse (named as the SDK names it)."""


def _discriminator(kind: str, name: str) -> bytes:
    return hashlib.sha256(f"{kind}:{name}".encode()).digest()[:8]


@attrs.frozen(kw_only=True)
class Whirlpool:
    """The fields of a Whirlpool account the quote and the swap need."""

    address: Pubkey
    tick_spacing: int
    fee_tier_index_seed: int
    fee_rate: int
    protocol_fee_rate: int
    liquidity: int
    sqrt_price: int
    tick_current_index: int
    token_mint_a: Pubkey
    token_vault_a: Pubkey
    token_mint_b: Pubkey
    token_vault_b: Pubkey

    @property
    def adaptive_fee(self) -> bool:
        """True when the pool was initialized with the adaptive fee (needs its oracle)."""
        return self.fee_tier_index_seed != self.tick_spacing


@attrs.frozen
class Tick:
    """One tick of a tick array."""

    initialized: bool
    liquidity_net: int
    liquidity_gross: int


@attrs.frozen(kw_only=True)
class TickArray:
    """A fixed tick array: 88 ticks from ``start_tick_index``."""

    address: Pubkey
    start_tick_index: int
    ticks: tuple[Tick, ...]


def decode_whirlpool(address: Pubkey, data: bytes) -> Whirlpool:
    """Decode a Whirlpool account (653 bytes, Anchor discriminator first)."""
    if len(data) < 653 or data[:8] != _discriminator("account", "Whirlpool"):
        raise WhirlpoolError(f"{address}: not a Whirlpool account ({len(data)} bytes)")
    o = 8 + 32 + 1
    tick_spacing, seed, fee_rate, protocol_fee_rate = struct.unpack_from("<HHHH", data, o)
    o += 8
    liquidity = int.from_bytes(data[o : o + 16], "little")
    sqrt_price = int.from_bytes(data[o + 16 : o + 32], "little")
    (tick,) = struct.unpack_from("<i", data, o + 32)
    o += 32 + 4 + 16
    mint_a, vault_a = data[o : o + 32], data[o + 32 : o + 64]
    o += 64 + 16
    mint_b, vault_b = data[o : o + 32], data[o + 32 : o + 64]
    return Whirlpool(
        address=address,
        tick_spacing=tick_spacing,
        fee_tier_index_seed=seed,
        fee_rate=fee_rate,
        protocol_fee_rate=protocol_fee_rate,
        liquidity=liquidity,
        sqrt_price=sqrt_price,
        tick_current_index=tick,
        token_mint_a=Pubkey.from_bytes(mint_a),
        token_vault_a=Pubkey.from_bytes(vault_a),
        token_mint_b=Pubkey.from_bytes(mint_b),
        token_vault_b=Pubkey.from_bytes(vault_b),
    )


def decode_tick_array(address: Pubkey, data: bytes) -> TickArray:
    """Decode a fixed TickArray account (9,988 bytes)."""
    if len(data) < 8 + 4 + TICK_ARRAY_SIZE * _TICK_LEN or data[:8] != _discriminator(
        "account", "TickArray"
    ):
        raise WhirlpoolError(f"{address}: not a fixed TickArray account ({len(data)} bytes)")
    (start,) = struct.unpack_from("<i", data, 8)
    ticks = []
    for i in range(TICK_ARRAY_SIZE):
        o = 12 + i * _TICK_LEN
        ticks.append(
            Tick(
                data[o] == 1,
                int.from_bytes(data[o + 1 : o + 17], "little", signed=True),
                int.from_bytes(data[o + 17 : o + 33], "little"),
            )
        )
    return TickArray(address=address, start_tick_index=start, ticks=tuple(ticks))


# -- tick math -------------------------------------------------------------------------------
_POS = [
    79236085330515764027303304731,
    79244008939048815603706035061,
    79259858533276714757314932305,
    79291567232598584799939703904,
    79355022692464371645785046466,
    79482085999252804386437311141,
    79736823300114093921829183326,
    80248749790819932309965073892,
    81282483887344747381513967011,
    83390072131320151908154831281,
    87770609709833776024991924138,
    97234110755111693312479820773,
    119332217159966728226237229890,
    179736315981702064433883588727,
    407748233172238350107850275304,
    2098478828474011932436660412517,
    55581415166113811149459800483533,
    38992368544603139932233054999993551,
]
_NEG = [
    18444899583751176498,
    18443055278223354162,
    18439367220385604838,
    18431993317065449817,
    18417254355718160513,
    18387811781193591352,
    18329067761203520168,
    18212142134806087854,
    17980523815641551639,
    17526086738831147013,
    16651378430235024244,
    15030750278693429944,
    12247334978882834399,
    8131365268884726200,
    3584323654723342297,
    696457651847595233,
    26294789957452057,
    37481735321082,
]
_U128 = 2**128 - 1


def tick_index_to_sqrt_price(tick: int) -> int:
    """The Q64.64 sqrt price of a tick (bit for bit the program's table)."""
    if tick >= 0:
        ratio = 79232123823359799118286999567 if tick & 1 else 79228162514264337593543950336
        for bit, factor in enumerate(_POS, 1):
            if tick & (1 << bit):
                ratio = ((ratio * factor) >> 96) & _U128
        return ratio >> 32
    t = -tick
    ratio = 18445821805675392311 if t & 1 else 18446744073709551616
    for bit, factor in enumerate(_NEG, 1):
        if t & (1 << bit):
            ratio = (ratio * factor) >> 64
    return ratio


_LOG_B_2_X32 = 59543866431248
_ERR_LOWER = 184467440737095516
_ERR_UPPER = 15793534762490258745


def sqrt_price_to_tick_index(sqrt_price: int) -> int:
    """The tick of a Q64.64 sqrt price (the program's log2 approximation)."""
    msb = sqrt_price.bit_length() - 1
    log2p_integer_x32 = (msb - 64) << 32
    bit = 0x8000_0000_0000_0000
    precision = 0
    fraction_x64 = 0
    r = sqrt_price >> (msb - 63) if msb >= 64 else sqrt_price << (63 - msb)
    while bit > 0 and precision < 14:
        r = (r * r) & _U128
        more = r >> 127
        r >>= 63 + more
        fraction_x64 += bit * more
        bit >>= 1
        precision += 1
    logbp_x64 = (log2p_integer_x32 + (fraction_x64 >> 32)) * _LOG_B_2_X32
    low = (logbp_x64 - _ERR_LOWER) >> 64
    high = (logbp_x64 + _ERR_UPPER) >> 64
    if low == high:
        return low
    return high if tick_index_to_sqrt_price(high) <= sqrt_price else low


def tick_array_start_index(tick: int, tick_spacing: int) -> int:
    """The start tick of the array holding ``tick``."""
    return (tick // tick_spacing // TICK_ARRAY_SIZE) * tick_spacing * TICK_ARRAY_SIZE


# -- amounts ---------------------------------------------------------------------------------
def _u64(value: int) -> int:
    if value > U64_MAX:
        raise WhirlpoolError("Amount exceeds max u64")
    return value


def amount_delta_a(p1: int, p2: int, liquidity: int, round_up: bool) -> int:
    """Token A between two sqrt prices at ``liquidity``."""
    lo, hi = min(p1, p2), max(p1, p2)
    num = (liquidity * (hi - lo)) << 64
    den = lo * hi
    q, r = divmod(num, den)
    return _u64(q + 1 if round_up and r else q)


def amount_delta_b(p1: int, p2: int, liquidity: int, round_up: bool) -> int:
    """Token B between two sqrt prices at ``liquidity``."""
    lo, hi = min(p1, p2), max(p1, p2)
    product = liquidity * (hi - lo)
    q = product >> 64
    return _u64(q + 1 if round_up and product & U64_MAX else q)


def _check_price(p: int) -> int:
    if not MIN_SQRT_PRICE <= p <= MAX_SQRT_PRICE:
        raise WhirlpoolError("Sqrt price out of bounds")
    return p


def next_sqrt_price_from_a(price: int, liquidity: int, amount: int, specified_input: bool) -> int:
    """The sqrt price after moving ``amount`` of token A."""
    if amount == 0:
        return price
    p = price * amount
    num = (liquidity * price) << 64
    den = (liquidity << 64) + p if specified_input else (liquidity << 64) - p
    q, r = divmod(num, den)
    return _check_price(q + 1 if r else q)


def next_sqrt_price_from_b(price: int, liquidity: int, amount: int, specified_input: bool) -> int:
    """The sqrt price after moving ``amount`` of token B."""
    if amount == 0:
        return price
    q, r = divmod(amount << 64, liquidity)
    delta = q + 1 if not specified_input and r else q
    return _check_price(price + delta if specified_input else price - delta)


def _mul_div(amount: int, product: int, denominator: int, round_up: bool) -> int:
    if amount == 0 or product == 0:
        return 0
    q, r = divmod(amount * product, denominator)
    return _u64(q + 1 if round_up and r else q)


def apply_swap_fee(amount: int, fee_rate: int) -> int:
    """``amount`` less the swap fee, rounded down."""
    return _mul_div(amount, FEE_RATE_DENOMINATOR - fee_rate, FEE_RATE_DENOMINATOR, False)


def reverse_apply_swap_fee(amount: int, fee_rate: int) -> int:
    """The amount before a swap fee that leaves ``amount``, rounded up."""
    return _mul_div(amount, FEE_RATE_DENOMINATOR, FEE_RATE_DENOMINATOR - fee_rate, True)


def min_with_slippage(amount: int, bps: int) -> int:
    """The least accepted output at ``bps`` slippage."""
    return _mul_div(amount, BPS_DENOMINATOR - bps, BPS_DENOMINATOR, False)


def max_with_slippage(amount: int, bps: int) -> int:
    """The most accepted input at ``bps`` slippage."""
    return _mul_div(amount, BPS_DENOMINATOR + bps, BPS_DENOMINATOR, True)


# -- the swap --------------------------------------------------------------------------------
class _Ticks:
    def __init__(self, arrays: Sequence[TickArray], spacing: int) -> None:
        self.arrays = sorted(arrays, key=lambda a: a.start_tick_index)
        self.spacing = spacing
        span = TICK_ARRAY_SIZE * spacing
        for a, b in zip(self.arrays, self.arrays[1:], strict=False):
            if b.start_tick_index - a.start_tick_index != span:
                raise WhirlpoolError("Tick array not evenly spaced")
        if not self.arrays:
            raise WhirlpoolError("Tick sequence empty")
        self.start = max(self.arrays[0].start_tick_index, MIN_TICK_INDEX)
        self.end = min(self.arrays[-1].start_tick_index + span - 1, MAX_TICK_INDEX)

    def tick(self, index: int) -> Tick:
        first = self.arrays[0].start_tick_index
        arr = self.arrays[(index - first) // (TICK_ARRAY_SIZE * self.spacing)]
        return arr.ticks[(index - arr.start_tick_index) // self.spacing]

    def next_initialized(self, index: int) -> tuple[Tick | None, int]:
        if index >= self.end:
            raise WhirlpoolError("Invalid tick array sequence")
        nxt = index
        while True:
            nxt = nxt - nxt % self.spacing + self.spacing
            if nxt > self.end:
                return None, self.end
            t = self.tick(nxt)
            if t.initialized:
                return t, nxt

    def prev_initialized(self, index: int) -> tuple[Tick | None, int]:
        if index < self.start:
            raise WhirlpoolError("Invalid tick array sequence")
        prev = (index // self.spacing) * self.spacing
        while True:
            if prev < self.start:
                return None, self.start
            t = self.tick(prev)
            if t.initialized:
                return t, prev
            rem = prev % self.spacing
            prev = prev - self.spacing if rem == 0 else prev - rem


@attrs.frozen
class SwapResult:
    """What a swap moves: token A and B amounts, the fee, and where the price ends."""

    token_a: int
    token_b: int
    trade_fee: int
    end_sqrt_price: int
    end_tick_index: int


def _fixed(cur: int, target: int, liq: int, a_to_b: bool, by_input: bool) -> int:
    if a_to_b == by_input:
        return amount_delta_a(cur, target, liq, by_input)
    return amount_delta_b(cur, target, liq, by_input)


def _unfixed(cur: int, target: int, liq: int, a_to_b: bool, by_input: bool) -> int:
    if by_input == a_to_b:
        return amount_delta_b(cur, target, liq, not by_input)
    return amount_delta_a(cur, target, liq, not by_input)


def _step(
    remaining: int, fee_rate: int, liq: int, cur: int, target: int, a_to_b: bool, by_input: bool
) -> tuple[int, int, int, int]:
    try:
        initial: int | None = _fixed(cur, target, liq, a_to_b, by_input)
    except WhirlpoolError:
        initial = None  # the fixed delta to the target exceeds u64: the step stops before it
    calculated = apply_swap_fee(remaining, fee_rate) if by_input else remaining
    if initial is not None and initial <= calculated:
        nxt = target
    elif by_input == a_to_b:
        nxt = next_sqrt_price_from_a(cur, liq, calculated, by_input)
    else:
        nxt = next_sqrt_price_from_b(cur, liq, calculated, by_input)
    is_max = nxt == target
    unfixed = _unfixed(cur, nxt, liq, a_to_b, by_input)
    fixed = (
        _fixed(cur, nxt, liq, a_to_b, by_input) if (not is_max or initial is None) else (initial)
    )
    amount_in, amount_out = (fixed, unfixed) if by_input else (unfixed, fixed)
    if not by_input and amount_out > remaining:
        amount_out = remaining
    if by_input and not is_max:
        fee = remaining - amount_in
    else:
        fee = reverse_apply_swap_fee(amount_in, fee_rate) - amount_in
    return amount_in, amount_out, nxt, fee


def compute_swap(
    pool: Whirlpool,
    arrays: Sequence[TickArray],
    amount: int,
    a_to_b: bool,
    by_input: bool,
    sqrt_price_limit: int = 0,
) -> SwapResult:
    """Swap ``amount`` (input when ``by_input``, else output) through the pool's ticks."""
    if pool.adaptive_fee:
        raise WhirlpoolError(f"{pool.address}: the pool uses the adaptive fee (oracle needed)")
    limit = sqrt_price_limit or (MIN_SQRT_PRICE if a_to_b else MAX_SQRT_PRICE)
    if not MIN_SQRT_PRICE <= limit <= MAX_SQRT_PRICE:
        raise WhirlpoolError("Sqrt price limit out of bounds")
    if (a_to_b and limit >= pool.sqrt_price) or (not a_to_b and limit <= pool.sqrt_price):
        raise WhirlpoolError("Invalid sqrt price limit direction")
    if amount == 0:
        raise WhirlpoolError("Zero tradable amount")
    ticks = _Ticks(arrays, pool.tick_spacing)
    remaining, calculated, fee_total = amount, 0, 0
    price, tick, liq = pool.sqrt_price, pool.tick_current_index, pool.liquidity
    while remaining > 0 and limit != price:
        nt, nti = ticks.prev_initialized(tick) if a_to_b else ticks.next_initialized(tick)
        nt_price = tick_index_to_sqrt_price(nti)
        target = max(nt_price, limit) if a_to_b else min(nt_price, limit)
        while True:
            a_in, a_out, nxt, fee = _step(
                remaining, pool.fee_rate, liq, price, target, a_to_b, by_input
            )
            fee_total += fee
            if by_input:
                remaining -= a_in + fee
                calculated += a_out
            else:
                remaining -= a_out
                calculated += a_in + fee
            _u64(calculated)
            if nxt == nt_price:
                net = nt.liquidity_net if nt is not None else 0
                liq = liq - net if a_to_b else liq + net
                tick = nti - 1 if a_to_b else nti
            elif nxt != price:
                tick = sqrt_price_to_tick_index(nxt)
            price = nxt
            if remaining == 0 or price == target:
                break
    swapped = amount - remaining
    token_a, token_b = (swapped, calculated) if a_to_b == by_input else (calculated, swapped)
    return SwapResult(token_a, token_b, fee_total, price, tick)


@attrs.frozen
class WhirlpoolQuote:
    """An exact-input or exact-output quote, as the SDK's ExactIn/ExactOutSwapQuote."""

    token_in: int
    token_out: int
    #: Least out (by input) or most in (by output), at the slippage.
    threshold: int
    trade_fee: int
    end_tick_index: int


def quote(
    pool: Whirlpool,
    arrays: Sequence[TickArray],
    amount: int,
    *,
    by_input: bool,
    a_to_b: bool,
    slippage_bps: int,
) -> WhirlpoolQuote:
    """Quote swapping ``amount`` (of the input when ``by_input``, else of the output)."""
    res = compute_swap(pool, arrays, amount, a_to_b, by_input)
    t_in, t_out = (res.token_a, res.token_b) if a_to_b else (res.token_b, res.token_a)
    threshold = (
        min_with_slippage(t_out, slippage_bps)
        if by_input
        else max_with_slippage(t_in, slippage_bps)
    )
    return WhirlpoolQuote(t_in, t_out, threshold, res.trade_fee, res.end_tick_index)


def swap_tick_arrays(pool: Whirlpool, a_to_b: bool) -> list[int]:
    """Start indexes of the three tick arrays a swap passes, in the swap's direction."""
    span = TICK_ARRAY_SIZE * pool.tick_spacing
    start = tick_array_start_index(pool.tick_current_index, pool.tick_spacing)
    step = -span if a_to_b else span
    return [start, start + step, start + 2 * step]


def swap_v2_instruction(
    *,
    pool: Whirlpool,
    token_program_a: Pubkey,
    token_program_b: Pubkey,
    authority: Pubkey,
    owner_account_a: Pubkey,
    owner_account_b: Pubkey,
    tick_arrays: Sequence[Pubkey],
    oracle: Pubkey,
    amount: int,
    other_amount_threshold: int,
    by_input: bool,
    a_to_b: bool,
    sqrt_price_limit: int = 0,
) -> Instruction:
    """The program's ``swap_v2`` instruction (no remaining-accounts info)."""
    data = (
        _discriminator("global", "swap_v2")
        + struct.pack("<QQ", amount, other_amount_threshold)
        + sqrt_price_limit.to_bytes(16, "little")
        + bytes([by_input, a_to_b, 0])
    )
    ta = list(tick_arrays)
    metas = [
        AccountMeta(token_program_a, False, False),
        AccountMeta(token_program_b, False, False),
        AccountMeta(MEMO_PROGRAM, False, False),
        AccountMeta(authority, True, False),
        AccountMeta(pool.address, False, True),
        AccountMeta(pool.token_mint_a, False, False),
        AccountMeta(pool.token_mint_b, False, False),
        AccountMeta(owner_account_a, False, True),
        AccountMeta(pool.token_vault_a, False, True),
        AccountMeta(owner_account_b, False, True),
        AccountMeta(pool.token_vault_b, False, True),
        AccountMeta(ta[0], False, True),
        AccountMeta(ta[1], False, True),
        AccountMeta(ta[2], False, True),
        AccountMeta(oracle, False, True),
    ]
    return Instruction(WHIRLPOOL_PROGRAM, data, metas)


@attrs.frozen
class SwapV2:
    """A decoded ``swap_v2`` instruction: what the wallet's pre-sign check needs."""

    whirlpool: Pubkey
    authority: Pubkey
    owner_account_a: Pubkey
    owner_account_b: Pubkey
    amount: int
    other_amount_threshold: int
    by_input: bool
    a_to_b: bool


def decode_swap_v2(data: bytes, accounts: Sequence[Pubkey]) -> SwapV2 | None:
    """``swap_v2``'s fields from its data and account list; None for another instruction."""
    if len(data) < 43 or data[:8] != _discriminator("global", "swap_v2") or len(accounts) < 15:
        return None
    amount, threshold = struct.unpack_from("<QQ", data, 8)
    return SwapV2(
        whirlpool=accounts[4],
        authority=accounts[3],
        owner_account_a=accounts[7],
        owner_account_b=accounts[9],
        amount=amount,
        other_amount_threshold=threshold,
        by_input=data[40] == 1,
        a_to_b=data[41] == 1,
    )


def tick_array_address(pool: Pubkey, start_tick_index: int) -> Pubkey:
    """The tick array PDA of ``pool`` starting at ``start_tick_index``."""
    return Pubkey.find_program_address(
        [b"tick_array", bytes(pool), str(start_tick_index).encode()], WHIRLPOOL_PROGRAM
    )[0]


def oracle_address(pool: Pubkey) -> Pubkey:
    """The oracle PDA of ``pool`` (swap_v2 passes it whether or not the pool uses it)."""
    return Pubkey.find_program_address([b"oracle", bytes(pool)], WHIRLPOOL_PROGRAM)[0]
