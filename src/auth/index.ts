/**
 * auth: device accounts (scrypt password hashes, login checks), failed-login throttling per
 * client address and user name, and per-device message rates. No SMTP here: src/smtp turns these into replies.
 */
export { DEFAULT_SCRYPT, DUMMY_HASH, hashPassword, parsePasswordHash, verifyPassword, type PasswordHash, type ScryptParams } from './password-hash.js';
export { DEFAULT_THROTTLE, LoginThrottle, networkOf, type ThrottledAttempt, type LoginThrottleOptions, type ThrottleLimits, type ThrottleVerdict } from './login-throttle.js';
export { DeviceRate } from './device-rate.js';
export { checkDeviceLogin, type LoginAttempt, type LoginResult } from './device-login.js';
