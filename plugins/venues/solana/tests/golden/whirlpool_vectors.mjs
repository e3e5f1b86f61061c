// Golden vectors from Orca's official SDKs: pool states built to known values are encoded
// into account bytes by @orca-so/whirlpools-client (the program's account layout), quoted by
// @orca-so/whirlpools-core (the program's swap math, compiled to WASM), and each quote's swap_v2
// instruction is built by @orca-so/whirlpools-client. Prints JSON on stdout.
// Usage: node whirlpool_vectors.mjs <node_modules folder>
import { createRequire } from "node:module";
import path from "node:path";

const req = createRequire(path.join(path.resolve(process.argv[2]), "index.js"));
const core = req("@orca-so/whirlpools-core");
const client = req("@orca-so/whirlpools-client");

const SIZE = 88;
const addr = (n) => {
  // a deterministic base58 address per number (32 bytes: n in the last bytes)
  const bytes = new Uint8Array(32);
  let v = BigInt(n) + 1000n;
  for (let i = 31; i >= 0 && v > 0n; i--) { bytes[i] = Number(v & 0xffn); v >>= 8n; }
  return req("@solana/kit").getAddressDecoder().decode(bytes);
};
const startOf = (tick, ts) => Math.floor(Math.floor(tick / ts) / SIZE) * ts * SIZE;

// (tick spacing, fee rate in 1e-6, sqrt price, [lower, upper, liquidity] positions)
const STATES = [
  { ts: 64, fee: 3000, sqrt: core.tickIndexToSqrtPrice(100) + 12345678901234n,
    positions: [[-11264, 11264, 500000000000n], [-640, 640, 2000000000000n]] },
  { ts: 1, fee: 100, sqrt: core.tickIndexToSqrtPrice(-20000) + 987654321n,
    positions: [[-20088, -19912, 100000000000000n], [-20500, -19500, 30000000000000n],
                [-20030, -19990, 50000000000000n]] },
  { ts: 8, fee: 500, sqrt: core.tickIndexToSqrtPrice(5003),
    positions: [[4096, 6144, 800000000000n], [4992, 5016, 5000000000000n]] },
  { ts: 128, fee: 10000, sqrt: core.tickIndexToSqrtPrice(-70000) + 5n,
    positions: [[-90112, -45056, 3000000000n], [-71680, -68608, 12000000000n]] },
  { ts: 4, fee: 400, sqrt: core.tickIndexToSqrtPrice(352) - 77777n,
    positions: [[0, 704, 4000000000000n], [340, 360, 90000000000000n]] },
  { ts: 16, fee: 1600, sqrt: core.tickIndexToSqrtPrice(-1) + 1n,
    positions: [[-1408, 1408, 250000000000n], [-32, 16, 6000000000000n]] },
];

const zeroTick = () => ({ initialized: false, liquidityNet: 0n, liquidityGross: 0n,
  feeGrowthOutsideA: 0n, feeGrowthOutsideB: 0n, rewardGrowthsOutside: [0n, 0n, 0n] });

const out = { states: [] };
STATES.forEach((s, si) => {
  const tick = core.sqrtPriceToTickIndex(s.sqrt);
  let liquidity = 0n;
  const ticks = new Map();
  for (const [lo, hi, l] of s.positions) {
    if (lo <= tick && tick < hi) liquidity += l;
    for (const [t, net] of [[lo, l], [hi, -l]]) {
      const cur = ticks.get(t) || zeroTick();
      cur.initialized = true; cur.liquidityNet += net; cur.liquidityGross += l;
      ticks.set(t, cur);
    }
  }
  const whirlpool = {
    whirlpoolsConfig: addr(si * 100 + 1), whirlpoolBump: new Uint8Array([254]),
    tickSpacing: s.ts, feeTierIndexSeed: new Uint8Array([s.ts & 0xff, s.ts >> 8]),
    feeRate: s.fee, protocolFeeRate: 1300, liquidity, sqrtPrice: s.sqrt,
    tickCurrentIndex: tick, protocolFeeOwedA: 11n, protocolFeeOwedB: 22n,
    tokenMintA: addr(si * 100 + 2), tokenVaultA: addr(si * 100 + 3),
    feeGrowthGlobalA: 123456789n, tokenMintB: addr(si * 100 + 4),
    tokenVaultB: addr(si * 100 + 5), feeGrowthGlobalB: 987654321n,
    rewardLastUpdatedTimestamp: 1700000000n,
    rewardInfos: [0, 1, 2].map((k) => ({ mint: addr(si * 100 + 10 + k),
      vault: addr(si * 100 + 20 + k), extension: new Uint8Array(32),
      emissionsPerSecondX64: 0n, growthGlobalX64: 0n })),
  };
  const poolAddress = addr(si * 100 + 50);
  const span = s.ts * SIZE;
  const start0 = startOf(tick, s.ts);
  const arrays = [];
  for (let k = -2; k <= 2; k++) {
    const start = start0 + k * span;
    const list = [];
    for (let i = 0; i < SIZE; i++) list.push(ticks.get(start + i * s.ts) || zeroTick());
    const bytes = client.getFixedTickArrayEncoder().encode(
      { startTickIndex: start, ticks: list, whirlpool: poolAddress });
    arrays.push({ start, address: addr(si * 100 + 60 + k + 2),
      data: Buffer.from(bytes).toString("base64"),
      facade: { startTickIndex: start, ticks: list } });
  }
  const facade = { feeTierIndexSeed: whirlpool.feeTierIndexSeed, tickSpacing: s.ts,
    feeRate: s.fee, protocolFeeRate: 1300, liquidity, sqrtPrice: s.sqrt,
    tickCurrentIndex: tick, feeGrowthGlobalA: 123456789n, feeGrowthGlobalB: 987654321n,
    rewardLastUpdatedTimestamp: 1700000000n,
    rewardInfos: [0, 1, 2].map(() => ({ emissionsPerSecondX64: 0n, growthGlobalX64: 0n })) };
  const state = {
    address: poolAddress,
    data: Buffer.from(client.getWhirlpoolEncoder().encode(whirlpool)).toString("base64"),
    tick_arrays: arrays.map(({ start, address, data }) => ({ start, address, data })),
    quotes: [],
    // the values the account holds, as the SDK's decoder reads them back
    fields: (() => {
      const d = client.getWhirlpoolDecoder().decode(client.getWhirlpoolEncoder().encode(whirlpool));
      return { tick_spacing: d.tickSpacing, fee_rate: d.feeRate, liquidity: String(d.liquidity),
        sqrt_price: String(d.sqrtPrice), tick_current_index: d.tickCurrentIndex,
        token_mint_a: d.tokenMintA, token_vault_a: d.tokenVaultA, token_mint_b: d.tokenMintB,
        token_vault_b: d.tokenVaultB, protocol_fee_rate: d.protocolFeeRate };
    })(),
  };
  const tickArrays = arrays.map((a) => a.facade);
  const owner = addr(9000 + si);
  const signer = { address: owner, signTransactions: async (t) => t };
  for (const byInput of [true, false]) {
    for (const aToB of [true, false]) {
      for (const exp of [3, 6, 9, 12]) {
        const amount = 10n ** BigInt(exp) * 7n;
        const specifiedA = byInput ? aToB : !aToB;
        let q;
        try {
          q = byInput
            ? core.swapQuoteByInputToken(amount, specifiedA, 75, facade, null, tickArrays,
                1700000100n)
            : core.swapQuoteByOutputToken(amount, specifiedA, 75, facade, null, tickArrays,
                1700000100n);
        } catch (e) {
          state.quotes.push({ by_input: byInput, a_to_b: aToB, amount: amount.toString(),
            error: String(e) });
          continue;
        }
        const threshold = byInput ? q.tokenMinOut : q.tokenMaxIn;
        const third = arrays.filter((a) => (aToB ? a.start <= start0 : a.start >= start0))
          .sort((x, y) => (aToB ? y.start - x.start : x.start - y.start)).slice(0, 3);
        const ix = client.getSwapV2Instruction({
          tokenProgramA: "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
          tokenProgramB: "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb",
          memoProgram: "MemoSq4gqABAXKb96qnH8TYDcAMbqxE2v4uD9RL3PZ4",
          tokenAuthority: signer, whirlpool: poolAddress,
          tokenMintA: whirlpool.tokenMintA, tokenMintB: whirlpool.tokenMintB,
          tokenOwnerAccountA: addr(9100 + si), tokenVaultA: whirlpool.tokenVaultA,
          tokenOwnerAccountB: addr(9200 + si), tokenVaultB: whirlpool.tokenVaultB,
          tickArray0: third[0].address, tickArray1: third[1].address,
          tickArray2: third[2].address, oracle: addr(9300 + si),
          amount, otherAmountThreshold: threshold, sqrtPriceLimit: 0n,
          amountSpecifiedIsInput: byInput, aToB, remainingAccountsInfo: null,
        });
        state.quotes.push({
          by_input: byInput, a_to_b: aToB, amount: amount.toString(), slippage_bps: 75,
          token_in: (byInput ? q.tokenIn : q.tokenEstIn).toString(),
          token_out: (byInput ? q.tokenEstOut : q.tokenOut).toString(),
          threshold: threshold.toString(), trade_fee: q.tradeFee.toString(),
          owner, owner_a: addr(9100 + si), owner_b: addr(9200 + si), oracle: addr(9300 + si),
          tick_arrays: third.map((a) => a.address),
          ix_program: ix.programAddress,
          ix_data: Buffer.from(ix.data).toString("hex"),
          ix_accounts: ix.accounts.map((a) => [a.address, a.role]),
        });
      }
    }
  }
  out.states.push(state);
});
process.stdout.write(JSON.stringify(out, null, 1));
