// Golden vectors from Raydium's official SDK (@raydium-io/raydium-sdk-v2): AMM v4 and CPMM pool
// states built to known values are encoded into account bytes by the SDK's layouts, quoted by
// the SDK (LiquidityModule.computeAmountOut / computeAmountIn for AMM v4, CurveCalculator for
// CPMM), and each quote's swap instruction built by the SDK. Prints JSON on stdout.
// Usage: node raydium_vectors.cjs <node_modules folder>
const path = require("node:path");
const { createRequire } = require("node:module");
const req = createRequire(path.join(path.resolve(process.argv[2]), "index.js"));
const r = req("@raydium-io/raydium-sdk-v2");
const { PublicKey } = req("@solana/web3.js");
const BN = req("bn.js");

const addr = (n) => {
  const b = Buffer.alloc(32);
  b.writeUInt32BE(n + 7, 28);
  return new PublicKey(b);
};
const fill = (layout, values, seed) => {
  const obj = layout.decode(Buffer.alloc(layout.span));
  let i = 0;
  for (const k of Object.keys(obj)) {
    i += 1;
    const v = obj[k];
    if (k in values) obj[k] = values[k];
    else if (v instanceof PublicKey) obj[k] = addr(seed * 1000 + i);
    else if (BN.isBN(v)) obj[k] = new BN(seed * 1000 + i);
  }
  const buf = Buffer.alloc(layout.span);
  layout.encode(obj, buf);
  return buf;
};
// Anchor accounts start with sha256("account:<Name>")[:8]; the SDK's layouts read past it.
const anchor = (buf, name) => {
  require("node:crypto").createHash("sha256").update(`account:${name}`).digest().copy(buf, 0, 0, 8);
  return buf;
};
const TOKEN = new PublicKey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
const TOKEN22 = new PublicKey("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");
// The AMM v4 quote functions are methods of the SDK's liquidity module (they use no state).
const Liquidity = req("@raydium-io/raydium-sdk-v2/lib/raydium/liquidity/liquidity.js").default;
const computeOut = Liquidity.prototype.computeAmountOut;
const computeIn = Liquidity.prototype.computeAmountIn;

// -- AMM v4 ------------------------------------------------------------------------------
const V4 = [
  { base: 9, quote: 6, vb: "2500000000000000", vq: "375000000000000", pb: "1000", pq: "777" },
  { base: 6, quote: 9, vb: "91000000", vq: "4400000000000", pb: "0", pq: "0" },
  { base: 5, quote: 6, vb: "123456789012345", vq: "98765432109", pb: "12345", pq: "999" },
  { base: 9, quote: 9, vb: "1000000000", vq: "1000000000", pb: "1", pq: "1" },
  { base: 8, quote: 6, vb: "77000000000000000", vq: "1234567890123", pb: "5000000", pq: "3" },
];
const out = { v4: [], cpmm: [] };
V4.forEach((s, si) => {
  const data = fill(r.liquidityStateV4Layout, {
    status: new BN(6), baseDecimal: new BN(s.base), quoteDecimal: new BN(s.quote),
    tradeFeeNumerator: new BN(25), tradeFeeDenominator: new BN(10000),
    swapFeeNumerator: new BN(25), swapFeeDenominator: new BN(10000),
    baseNeedTakePnl: new BN(s.pb), quoteNeedTakePnl: new BN(s.pq),
  }, si + 1);
  const st = r.liquidityStateV4Layout.decode(data);
  const baseReserve = new BN(s.vb).sub(st.baseNeedTakePnl);
  const quoteReserve = new BN(s.vq).sub(st.quoteNeedTakePnl);
  const id = addr(500 + si);
  const poolInfo = { version: 4, mintA: { address: st.baseMint.toBase58(), decimals: s.base },
    mintB: { address: st.quoteMint.toBase58(), decimals: s.quote }, baseReserve, quoteReserve };
  const keys = { programId: "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8", id: id.toBase58(),
    authority: "5Q544fKrFoe6tsEbD7S8EmxGTJYAKtTVhAW5Q5pge4j1",
    openOrders: st.openOrders.toBase58(), targetOrders: st.targetOrders.toBase58(),
    vault: { A: st.baseVault.toBase58(), B: st.quoteVault.toBase58() },
    marketProgramId: st.marketProgramId.toBase58(), marketId: st.marketId.toBase58(),
    marketBids: addr(600 + si).toBase58(), marketAsks: addr(610 + si).toBase58(),
    marketEventQueue: addr(620 + si).toBase58(), marketBaseVault: addr(630 + si).toBase58(),
    marketQuoteVault: addr(640 + si).toBase58(), marketAuthority: addr(650 + si).toBase58() };
  const user = { tokenAccountIn: addr(700 + si), tokenAccountOut: addr(710 + si),
    owner: addr(720 + si) };
  const state = { address: id.toBase58(), data: data.toString("base64"),
    vault_base: s.vb, vault_quote: s.vq, market: keys, user: {
      in: user.tokenAccountIn.toBase58(), out: user.tokenAccountOut.toBase58(),
      owner: user.owner.toBase58() },
    fields: { base_decimals: s.base, quote_decimals: s.quote, base_mint: st.baseMint.toBase58(),
      quote_mint: st.quoteMint.toBase58(), base_vault: st.baseVault.toBase58(),
      quote_vault: st.quoteVault.toBase58(), base_need_take_pnl: s.pb,
      quote_need_take_pnl: s.pq, open_orders: st.openOrders.toBase58(),
      target_orders: st.targetOrders.toBase58(), market_id: st.marketId.toBase58(),
      market_program: st.marketProgramId.toBase58(),
      swap_fee: [st.swapFeeNumerator.toString(), st.swapFeeDenominator.toString()] },
    quotes: [] };
  for (const baseIn of [true, false]) {
    for (const amount of ["1000", "2500000", "987654321", "50000000000"]) {
      const [mintIn, mintOut] = baseIn ? [poolInfo.mintA.address, poolInfo.mintB.address]
        : [poolInfo.mintB.address, poolInfo.mintA.address];
      const q = computeOut.call({}, { poolInfo, amountIn: new BN(amount), mintIn, mintOut,
        slippage: 0.005 });
      const ix = r.makeSwapFixedInInstruction({ poolKeys: keys, userKeys: user,
        amountIn: new BN(amount), minAmountOut: q.minAmountOut }, 4);
      const qi = computeIn.call(
        { logDebug: () => {}, logAndCreateError: (m) => { throw new Error(m); } },
        { poolInfo, amountOut: new BN(amount), mintIn, mintOut, slippage: 0.005 });
      const enc = (ins) => ({ data: Buffer.from(ins.data).toString("hex"),
        program: ins.programId.toBase58(),
        accounts: ins.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]) });
      const row = { base_in: baseIn, amount,
        out: q.amountOut.toString(), min_out: q.minAmountOut.toString(),
        fee: q.fee.toString(), ix_in: enc(ix),
        in: qi.amountIn.toString(), max_in: qi.maxAmountIn.toString() };
      if (qi.maxAmountIn.bitLength() <= 64) {
        row.ix_out = enc(r.makeSwapFixedOutInstruction({ poolKeys: keys, userKeys: user,
          maxAmountIn: qi.maxAmountIn, amountOut: new BN(amount) }, 4));
      }
      state.quotes.push(row);
    }
  }
  out.v4.push(state);
});

// -- CPMM --------------------------------------------------------------------------------
const CPMM = [
  { trade: 2500, protocol: 120000, fund: 40000, creator: 0, onInput: false,
    va: "5000000000000", vb: "800000000000", fees: ["10", "20", "30", "40", "0", "0"] },
  { trade: 10000, protocol: 120000, fund: 40000, creator: 500, onInput: true,
    va: "123456789", vb: "987654321000", fees: ["1", "2", "3", "4", "5", "6"] },
  { trade: 2500, protocol: 120000, fund: 40000, creator: 1000, onInput: false,
    va: "42000000000000000", vb: "17000000000", fees: ["1000", "0", "0", "500", "70", "0"] },
  { trade: 40000, protocol: 120000, fund: 40000, creator: 0, onInput: false,
    va: "1000000000", vb: "1000000000", fees: ["0", "0", "0", "0", "0", "0"] },
  { trade: 500, protocol: 100000, fund: 0, creator: 2000, onInput: true,
    va: "9999999999999", vb: "31415926535", fees: ["99", "98", "97", "96", "95", "94"] },
];
const CPMM_PROGRAM = "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C";
CPMM.forEach((s, si) => {
  const seed = 20 + si;
  const cfg = fill(r.CpmmConfigInfoLayout, { tradeFeeRate: new BN(s.trade),
    protocolFeeRate: new BN(s.protocol), fundFeeRate: new BN(s.fund),
    creatorFeeRate: new BN(s.creator) }, seed);
  anchor(cfg, "AmmConfig");
  const [pa, pb, fa, fb, ca, cb] = s.fees.map((x) => new BN(x));
  const data = fill(r.CpmmPoolInfoLayout, { mintDecimalA: 9, mintDecimalB: 6,
    mintProgramA: TOKEN, mintProgramB: si % 2 ? TOKEN22 : TOKEN,
    protocolFeesMintA: pa, protocolFeesMintB: pb, fundFeesMintA: fa, fundFeesMintB: fb,
    creatorFeesMintA: ca, creatorFeesMintB: cb, enableCreatorFee: s.creator > 0,
    feeOn: s.onInput ? 0 : 1 }, seed);
  anchor(data, "PoolState");
  const pool = r.CpmmPoolInfoLayout.decode(data);
  const id = addr(800 + si);
  const ra = new BN(s.va).sub(pa).sub(fa).sub(ca);
  const rb = new BN(s.vb).sub(pb).sub(fb).sub(cb);
  const state = { address: id.toBase58(), data: data.toString("base64"),
    config: cfg.toString("base64"), vault_a: s.va, vault_b: s.vb, quotes: [],
    fields: { config_id: pool.configId.toBase58(), vault_a: pool.vaultA.toBase58(),
      vault_b: pool.vaultB.toBase58(), mint_a: pool.mintA.toBase58(),
      mint_b: pool.mintB.toBase58(), program_a: pool.mintProgramA.toBase58(),
      program_b: pool.mintProgramB.toBase58(), observation: pool.observationId.toBase58(),
      decimals: [pool.mintDecimalA, pool.mintDecimalB], fees: s.fees,
      rates: [s.trade, s.protocol, s.fund, s.creator], creator_fee_on_input: s.onInput,
      enable_creator_fee: pool.enableCreatorFee } };
  const user = { payer: addr(900 + si), in: addr(910 + si), out: addr(920 + si) };
  const authority = new PublicKey("GpMZbSM2GgvTKHJirzeGfMFoaZ8UR2X7F4v8vHTvxFbL");
  for (const aIn of [true, false]) {
    for (const amount of ["1000", "3000000", "123456789", "40000000000"]) {
      const [vin, vout] = aIn ? [ra, rb] : [rb, ra];
      const rates = [new BN(s.trade), new BN(s.creator), new BN(s.protocol), new BN(s.fund)];
      const creatorOnInput = s.onInput;
      const qi = r.CurveCalculator.swapBaseInput(new BN(amount), vin, vout, ...rates,
        creatorOnInput);
      let qo = null;
      try {
        qo = r.CurveCalculator.swapBaseOutput(new BN(amount), vin, vout, ...rates,
          creatorOnInput);
      } catch (e) { qo = { error: String(e) }; }
      if (!qo.error && !qo.inputAmount.gtn(0)) {
        // asked for more than the pool holds: the SDK's arithmetic goes negative (the
        // program refuses such a swap)
        qo = { error: `swapBaseOutput gave input ${qo.inputAmount.toString()}` };
      }
      const [vIn, vOut, mIn, mOut, pIn, pOut] = aIn
        ? [pool.vaultA, pool.vaultB, pool.mintA, pool.mintB, pool.mintProgramA, pool.mintProgramB]
        : [pool.vaultB, pool.vaultA, pool.mintB, pool.mintA, pool.mintProgramB, pool.mintProgramA];
      const minOut = qi.outputAmount.muln(995).divn(1000);
      const ix = r.makeSwapCpmmBaseInInstruction(new PublicKey(CPMM_PROGRAM), user.payer,
        authority, pool.configId, id, user.in, user.out, vIn, vOut, pIn, pOut, mIn, mOut,
        pool.observationId, new BN(amount), minOut);
      const enc = (ins) => ({ data: Buffer.from(ins.data).toString("hex"),
        program: ins.programId.toBase58(),
        accounts: ins.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]) });
      const row = { a_in: aIn, amount, out: qi.outputAmount.toString(),
        trade_fee: qi.tradeFee.toString(), creator_fee: qi.creatorFee.toString(),
        min_out: minOut.toString(), ix_in: enc(ix),
        payer: user.payer.toBase58(), user_in: user.in.toBase58(),
        user_out: user.out.toBase58() };
      if (qo.error) row.out_error = qo.error;
      else {
        row.in_for_out = qo.inputAmount.toString();
        const ixo = r.makeSwapCpmmBaseOutInstruction(new PublicKey(CPMM_PROGRAM), user.payer,
          authority, pool.configId, id, user.in, user.out, vIn, vOut, pIn, pOut, mIn, mOut,
          pool.observationId, qo.inputAmount.muln(1005).divn(1000), new BN(amount));
        row.ix_out = enc(ixo);
        row.max_in = qo.inputAmount.muln(1005).divn(1000).toString();
      }
      state.quotes.push(row);
    }
  }
  out.cpmm.push(state);
});
process.stdout.write(JSON.stringify(out, null, 1));
