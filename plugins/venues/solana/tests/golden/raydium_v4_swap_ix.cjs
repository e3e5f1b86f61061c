// An AMM v4 pool's OpenBook market account encoded by @raydium-io/raydium-sdk-v2's
// MARKET_STATE_LAYOUT_V3 (its vault signer nonce the first that gives a program address, as
// market creation picks it), and the swap instruction the SDK builds for the given accounts and
// amounts (makeSwapFixedInInstruction / makeSwapFixedOutInstruction) with that market's
// accounts: the reference for the transaction the venue builds itself when it swaps through an
// AMM v4 pool directly. Prints JSON on stdout.
// Usage: node raydium_v4_swap_ix.cjs <node_modules folder> '<json of the arguments>'
const path = require("node:path");
const { createRequire } = require("node:module");
const req = createRequire(path.join(path.resolve(process.argv[2]), "index.js"));
const r = req("@raydium-io/raydium-sdk-v2");
const { PublicKey } = req("@solana/web3.js");
const BN = req("bn.js");

const a = JSON.parse(process.argv[3]);
const pk = (x) => new PublicKey(x);
const addr = (n) => {
  const b = Buffer.alloc(32);
  b.writeUInt32BE(n + 77, 28);
  return new PublicKey(b);
};
const marketId = pk(a.market_id);
const marketProgram = pk(a.market_program);
let nonce = 0;
let authority = null;
for (; nonce < 256 && authority === null; nonce++) {
  try {
    authority = PublicKey.createProgramAddressSync(
      [marketId.toBuffer(), new BN(nonce).toArrayLike(Buffer, "le", 8)], marketProgram);
  } catch (e) { /* on the curve: the next nonce */ }
}
nonce -= 1;
const layout = r.MARKET_STATE_LAYOUT_V3;
const m = layout.decode(Buffer.alloc(layout.span));
Object.assign(m, {
  accountFlags: m.accountFlags, ownAddress: marketId, vaultSignerNonce: new BN(nonce),
  baseMint: pk(a.base_mint), quoteMint: pk(a.quote_mint), baseVault: addr(1),
  quoteVault: addr(2), requestQueue: addr(3), eventQueue: addr(4), bids: addr(5),
  asks: addr(6), baseLotSize: new BN(1), quoteLotSize: new BN(1), feeRateBps: new BN(0),
});
const data = Buffer.alloc(layout.span);
layout.encode(m, data);
Buffer.from("serum").copy(data, 0);
const keys = { programId: "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8", id: a.pool,
  authority: "5Q544fKrFoe6tsEbD7S8EmxGTJYAKtTVhAW5Q5pge4j1",
  openOrders: a.open_orders, targetOrders: a.target_orders,
  vault: { A: a.base_vault, B: a.quote_vault }, marketProgramId: a.market_program,
  marketId: a.market_id, marketBids: addr(5).toBase58(), marketAsks: addr(6).toBase58(),
  marketEventQueue: addr(4).toBase58(), marketBaseVault: addr(1).toBase58(),
  marketQuoteVault: addr(2).toBase58(), marketAuthority: authority.toBase58() };
const user = { tokenAccountIn: pk(a.user_in), tokenAccountOut: pk(a.user_out),
  owner: pk(a.owner) };
const ix = a.exact_in
  ? r.makeSwapFixedInInstruction({ poolKeys: keys, userKeys: user,
    amountIn: new BN(a.amount), minAmountOut: new BN(a.threshold) }, 4)
  : r.makeSwapFixedOutInstruction({ poolKeys: keys, userKeys: user,
    maxAmountIn: new BN(a.threshold), amountOut: new BN(a.amount) }, 4);
process.stdout.write(JSON.stringify({
  market: data.toString("base64"), authority: authority.toBase58(), nonce,
  program: ix.programId.toBase58(), data: Buffer.from(ix.data).toString("hex"),
  accounts: ix.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]),
}));
