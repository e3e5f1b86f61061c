// The swap_v2 instruction @orca-so/whirlpools-client (Orca's official SDK) builds for the given
// accounts and amounts: the reference for the transaction the venue builds itself when it swaps
// through a Whirlpool directly. The tick arrays' and the oracle's addresses are the SDK's own
// derivations (getTickArrayAddress, getOracleAddress). Prints JSON on stdout.
// Usage: node whirlpool_swap_ix.mjs <node_modules folder> '<json of the arguments>'
import { createRequire } from "node:module";
import path from "node:path";

const req = createRequire(path.join(path.resolve(process.argv[2]), "index.js"));
const client = req("@orca-so/whirlpools-client");
const a = JSON.parse(process.argv[3]);
const tickArrays = [];
for (const start of a.tick_array_starts) {
  tickArrays.push((await client.getTickArrayAddress(a.whirlpool, start))[0]);
}
const oracle = (await client.getOracleAddress(a.whirlpool))[0];
const signer = { address: a.authority, signTransactions: async (t) => t };
const ix = client.getSwapV2Instruction({
  tokenProgramA: a.token_program_a, tokenProgramB: a.token_program_b,
  memoProgram: "MemoSq4gqABAXKb96qnH8TYDcAMbqxE2v4uD9RL3PZ4",
  tokenAuthority: signer, whirlpool: a.whirlpool,
  tokenMintA: a.mint_a, tokenMintB: a.mint_b,
  tokenOwnerAccountA: a.owner_a, tokenVaultA: a.vault_a,
  tokenOwnerAccountB: a.owner_b, tokenVaultB: a.vault_b,
  tickArray0: tickArrays[0], tickArray1: tickArrays[1], tickArray2: tickArrays[2], oracle, amount: BigInt(a.amount), otherAmountThreshold: BigInt(a.threshold),
  sqrtPriceLimit: 0n, amountSpecifiedIsInput: a.by_input, aToB: a.a_to_b,
  remainingAccountsInfo: null,
});
process.stdout.write(JSON.stringify({
  program: ix.programAddress, data: Buffer.from(ix.data).toString("hex"),
  accounts: ix.accounts.map((m) => [m.address, m.role]), tick_arrays: tickArrays,
}));
