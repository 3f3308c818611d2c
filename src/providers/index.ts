/**
 * Provider knowledge. Imports only definitions (DESIGN §9).
 */
export {
  SALESFORCE_LOGIN_HOSTS,
  adviceFor,
  apiOriginFor,
  apiOriginReason,
  isInvalidSessionBody,
  isLightningHost,
  isLoginHost,
  isSessionNotValidForApi,
  scopeLacksRefreshToken,
  type SalesforceSituation,
} from './salesforce.ts'
