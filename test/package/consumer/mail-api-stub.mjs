// Loaded with `node --import` before the README's quick start, which posts to
// https://mail.example.com/send: its fetch goes to the local stand-in at MAIL_API_URL
// instead, so the example runs as written.
const realFetch = globalThis.fetch;
const readmeOrigin = 'https://mail.example.com';
const standIn = process.env.MAIL_API_URL;
if (!standIn) throw new Error('MAIL_API_URL is not set');

globalThis.fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  return realFetch(url.startsWith(`${readmeOrigin}/`) ? `${standIn}${url.slice(readmeOrigin.length)}` : input, init);
};
