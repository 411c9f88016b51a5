// Rollout's generateToken, verbatim from its guide, run on a fixed clock for each case on stdin.
// stdin: JSON [{"clientId", "secret", "userId", "nowMs"}, ...]; stdout: JSON list of tokens.
const jwt = require('jsonwebtoken');

function generateToken(userId) {
  const now = Math.floor(Date.now() / 1000);

  return jwt.sign(
    {
      iss: process.env.ROLLOUT_CLIENT_ID,
      sub: userId,
      iat: now,
      exp: now + 900, // 15 minutes
    },
    process.env.ROLLOUT_CLIENT_SECRET,
    { algorithm: 'HS512' }
  );
}

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const tokens = JSON.parse(input).map((c) => {
    process.env.ROLLOUT_CLIENT_ID = c.clientId;
    process.env.ROLLOUT_CLIENT_SECRET = c.secret;
    Date.now = () => c.nowMs;
    return generateToken(c.userId);
  });
  process.stdout.write(JSON.stringify(tokens));
});
