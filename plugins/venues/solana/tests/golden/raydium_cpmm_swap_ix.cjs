// The CPMM swap instruction @raydium-io/raydium-sdk-v2 (Raydium's official SDK) builds for the
// given accounts and amounts (makeSwapCpmmBaseInInstruction / makeSwapCpmmBaseOutInstruction),
// and its CurveCalculator quote on the given reserves: the reference for the transaction the
// venue builds itself when it swaps through a CPMM pool directly. Prints JSON on stdout.
// Usage: node raydium_cpmm_swap_ix.cjs <node_modules folder> '<json of the arguments>'
const path = require("node:path");
const { createRequire } = require("node:module");
const req = createRequire(path.join(path.resolve(process.argv[2]), "index.js"));
const r = req("@raydium-io/raydium-sdk-v2");
const { PublicKey } = req("@solana/web3.js");
const BN = req("bn.js");

const a = JSON.parse(process.argv[3]);
const pk = (x) => new PublicKey(x);
const rates = [new BN(a.trade_fee_rate), new BN(a.creator_fee_rate),
  new BN(a.protocol_fee_rate), new BN(a.fund_fee_rate)];
const q = a.exact_in
  ? r.CurveCalculator.swapBaseInput(new BN(a.amount), new BN(a.reserve_in),
    new BN(a.reserve_out), ...rates, a.creator_fee_on_input)
  : r.CurveCalculator.swapBaseOutput(new BN(a.amount), new BN(a.reserve_in),
    new BN(a.reserve_out), ...rates, a.creator_fee_on_input);
const make = a.exact_in ? r.makeSwapCpmmBaseInInstruction : r.makeSwapCpmmBaseOutInstruction;
const [first, second] = a.exact_in ? [new BN(a.amount), new BN(a.threshold)]
  : [new BN(a.threshold), new BN(a.amount)];
const ix = make(pk("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C"), pk(a.payer),
  pk("GpMZbSM2GgvTKHJirzeGfMFoaZ8UR2X7F4v8vHTvxFbL"), pk(a.config), pk(a.pool), pk(a.user_in),
  pk(a.user_out), pk(a.vault_in), pk(a.vault_out), pk(a.program_in), pk(a.program_out),
  pk(a.mint_in), pk(a.mint_out), pk(a.observation), first, second);
process.stdout.write(JSON.stringify({
  in_amount: (a.exact_in ? new BN(a.amount) : q.inputAmount).toString(),
  out_amount: (a.exact_in ? q.outputAmount : new BN(a.amount)).toString(),
  program: ix.programId.toBase58(), data: Buffer.from(ix.data).toString("hex"),
  accounts: ix.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]),
}));
