// The official OpenAI SDK against the engine: one streamed chat. Prints the chunk count.
//   node stream_chat.mjs BASE_URL   (e.g. https://127.0.0.1:8443/v1)
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2], apiKey: process.env.GE_API_KEY ?? "none" });
const stream = await client.chat.completions.create({
  model: "m",
  stream: true,
  messages: [{ role: "user", content: "hi" }],
});
let chunks = 0;
let text = "";
for await (const chunk of stream) {
  const delta = chunk.choices[0]?.delta?.content ?? "";
  if (delta) chunks += 1;
  text += delta;
}
console.log(`chunks: ${chunks}`);
console.log(`text: ${text}`);
